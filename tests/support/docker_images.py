"""Docker from the tests: the `docker` command, and a base image an unprivileged user can use.

The container-image test and the Compose test build Baton's image; on the machines this project
is built on, the Docker engine comes from ../shared/tools/docker-engine, which builds a stand-in
`python:3.11-slim` from Debian packages (no registry can be reached)."""

from __future__ import annotations

import subprocess

BASE_IMAGE = "python:3.11-slim"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


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
        exported = subprocess.run(
            f"docker export {container} | docker import --change 'LABEL {ROOT_OPENED_LABEL}=true'"
            f" - {BASE_IMAGE}",
            shell=True, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
    finally:
        docker("rm", container)
