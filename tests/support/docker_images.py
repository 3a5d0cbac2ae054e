"""Docker from the tests: the `docker` command, and a base image an unprivileged user can use.

The container-image test and the Compose test build Baton's image; on the machines this project
is built on, the Docker engine comes from ../shared/tools/docker-engine, which builds a stand-in
`python:3.11-slim` from Debian packages (no registry can be reached).

Images are built with BuildKit wherever a client on PATH can: the classic builder starts and
commits a container for every instruction (ENV, USER and CMD too), and where the engine stores
images with the vfs driver, as ../shared/tools/docker-engine's does, each of those copies the
whole image. Baton's image took 4 min 48 s to build that way here and 49 s with BuildKit."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

BASE_IMAGE = "python:3.11-slim"


def _builds_with_buildkit(client: str) -> bool:
    """A client with the buildx plugin, or one from before Docker 23, whose BuildKit is built in
    (a later one without buildx refuses DOCKER_BUILDKIT=1 outright)."""
    buildx = subprocess.run([client, "buildx", "version"], capture_output=True, check=False)
    if buildx.returncode == 0:
        return True
    version = subprocess.run([client, "--version"], capture_output=True, text=True, check=False)
    major = re.search(r"version (\d+)\.", version.stdout)
    return major is not None and int(major.group(1)) < 23


@functools.cache
def docker_client() -> tuple[str, dict[str, str]]:
    """The `docker` command to run, and what its environment sets: the first on PATH that builds
    with BuildKit, else the first on PATH with the classic builder (DOCKER_BUILDKIT=0, since a
    client that refuses it would fail on an inherited 1)."""
    found = [
        str(Path(folder) / "docker")
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and shutil.which("docker", path=folder)
    ]
    for client in dict.fromkeys(found):
        if _builds_with_buildkit(client):
            return client, {"DOCKER_BUILDKIT": "1", "COMPOSE_DOCKER_CLI_BUILD": "1"}
    return (found[0] if found else "docker"), {"DOCKER_BUILDKIT": "0"}


def docker_environment(base: dict[str, str]) -> dict[str, str]:
    """`base` for a program that runs `docker` itself (docker-compose): the client chosen above
    first on PATH, and docker-compose building through it with BuildKit where it can."""
    client, added = docker_client()
    if not Path(client).is_absolute():
        return {**base, **added}
    path = os.pathsep.join(filter(None, [str(Path(client).parent), base.get("PATH")]))
    return {**base, **added, "PATH": path}


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    client, added = docker_client()
    return subprocess.run([client, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **added}, check=False)  # fmt: skip


def image_present(image: str) -> bool:
    return docker("image", "inspect", image).returncode == 0


# Set on the stand-in once it has been re-imported with an open root folder, so later runs know
# without starting a container (each one a copy of the whole image under the vfs driver).
ROOT_OPENED_LABEL = "baton.test.root-opened"


def base_image_usable_by_an_unprivileged_user() -> None:
    """The stand-in `python:3.11-slim` that ../shared/tools/docker-engine builds where no
    registry is reachable has a private root folder (0700, from the temporary folder it was
    assembled in), which the image's user 10001 cannot even enter; the official image's is 0755.
    Re-imported through `docker export`, whose archive carries no entry for `/`, it gets 0755:
    the same files, as the official image has them."""
    label = docker("image", "inspect", "-f",
                   f'{{{{ index .Config.Labels "{ROOT_OPENED_LABEL}" }}}}', BASE_IMAGE)  # fmt: skip
    if label.stdout.strip() == "true":
        return
    mode = docker("run", "--rm", "--entrypoint", "/usr/bin/stat", BASE_IMAGE, "-c", "%a", "/")
    if mode.returncode != 0 or mode.stdout.strip() == "755":
        return  # the official image (or one we cannot inspect: the build will tell)
    created = docker("create", BASE_IMAGE, "/bin/true")
    assert created.returncode == 0, created.stderr
    container = created.stdout.strip()
    try:
        client, _ = docker_client()
        exported = subprocess.run(
            f"set -o pipefail; {shlex.quote(client)} export {container} | {shlex.quote(client)}"
            f" import --change 'LABEL {ROOT_OPENED_LABEL}=true' - {BASE_IMAGE}",
            shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
    finally:
        docker("rm", container)
