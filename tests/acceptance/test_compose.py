"""docker-compose.yml brought up for real: Baton's image built from the Dockerfile, Postgres,
NATS and Prometheus (official images where present or pullable, else the stand-ins of
tests/support/compose/standins), the migration, the four services with their healthchecks and
restart policies; a simulated campaign through Compose's NATS while a service is killed; every
Baton target up in Prometheus; `down -v` leaving nothing behind.

Skipped, by name, where no Docker engine answers; `.ci/run` starts one with
`../shared/tools/docker-engine`. That engine has host networking only, so the test adds one
override file (tests/support/compose/host-network.yml: ports, URLs, network_mode, nothing else).
The figures (time to healthy, the simulation, restart time) are printed, for the closing note.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.contract import catalogue as api
from shared.contract.catalogue import CORE_SERVICE_NAMES
from tests.support.baton_up import finished_report
from tests.support.docker_images import (
    base_image_usable_by_an_unprivileged_user,
    docker,
    docker_environment,
    image_present,
)
from tests.support.servers import STANDIN_LABEL, docker_answers
from tools.cli.supervisor import service_ready
from tools.devservers.ports import free_port

pytestmark = [pytest.mark.acceptance, pytest.mark.xdist_group("docker")]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SUPPORT = ROOT / "tests" / "support" / "compose"
OVERRIDE = SUPPORT / "host-network.yml"
STANDINS = SUPPORT / "standins"
# Services of the compose file the test may leave out, with the reason; any other is started.
MAY_LEAVE_OUT = {
    "grafana": "no image can be had on a machine without a registry, and Debian packages none",
}


def _compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def _is_standin(image: str) -> bool:
    """Built here before: built again, from its recipe as it is now (the engine's cache makes
    that instant when nothing changed)."""
    label = docker("image", "inspect", "-f", f'{{{{ index .Config.Labels "{STANDIN_LABEL}" }}}}',
                   image)  # fmt: skip
    return label.stdout.strip() == "true"


def _pullable(image: str) -> bool:
    return docker("pull", image, timeout=120).returncode == 0


def _images_at_hand(services: dict[str, Any]) -> list[str]:
    """Every service that runs a server image has it: the official one, present or pulled, or
    the stand-in built here under its name. The services that cannot run are returned."""
    left_out = []
    for name, service in services.items():
        image = service.get("image")
        if image is None or "build" in service:
            continue
        if image_present(image) and not _is_standin(image):
            continue
        if not image_present(image) and _pullable(image):
            continue
        recipe = STANDINS / name
        if not (recipe / "Dockerfile").exists():
            assert name in MAY_LEAVE_OUT, f"no image {image} and no stand-in for {name}"
            left_out.append(name)
            continue
        built = docker("build", "--network", "host", "--label", f"{STANDIN_LABEL}=true",
                       "-t", image, str(recipe), timeout=900)  # fmt: skip
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return left_out


def _prometheus_config(path: Path, metrics_ports: dict[str, int]) -> None:
    """deploy/prometheus/prometheus.yml with each `service:9100` target at its host port."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    targets = job["static_configs"][0]["targets"]
    assert sorted(t.split(":")[0] for t in targets) == sorted(CORE_SERVICE_NAMES), targets
    job["static_configs"] = [
        {"targets": [f"127.0.0.1:{metrics_ports[t.split(':')[0]]}"],
         "labels": {"service": t.split(":")[0]}}
        for t in targets
    ]  # fmt: skip
    job.pop("relabel_configs", None)  # the service label is given above; hosts are all 127.0.0.1
    path.write_text(yaml.safe_dump(config))


def _with_the_override(env: dict[str, str], path: Path) -> Path:
    """docker-compose.yml with the override merged in, as `docker-compose config` prints it, less
    the port bindings of the services on the host's network: there every port is the host's
    already, and Compose v1 (Debian's) refuses a binding beside `network_mode: host`, with no
    way for an override to remove a list the base file gives (v2's `!reset`)."""
    merged = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "-f", str(OVERRIDE), "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    config = yaml.safe_load(merged.stdout)
    for service in config["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    path.write_text(yaml.safe_dump(config))
    return path


class Compose:
    def __init__(self, project: str, env: dict[str, str], file: Path) -> None:
        self.project = project
        self.env = env
        self.file = file

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = ["docker-compose", "-p", self.project, "--project-directory", str(ROOT),
                   "-f", str(self.file), *args]  # fmt: skip
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def container(self, service: str) -> str:
        found = self("ps", "-q", service)
        assert found.returncode == 0 and found.stdout.strip(), found.stdout + found.stderr
        return found.stdout.strip().splitlines()[0]

    def state(self, service: str, template: str) -> str:
        return docker("inspect", "-f", template, self.container(service)).stdout.strip()

    def left_behind(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        found = []
        for kind in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
            listed = docker(*kind, "-q", "--filter", label)
            found += [f"{kind[0]} {x}" for x in listed.stdout.split()]
        return found


def _wait(condition: Any, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.25)
    return time.monotonic() - started


def _targets(port: int) -> dict[str, str]:
    """Prometheus's scrape targets by service, with their health; none while it cannot answer."""
    url = f"http://127.0.0.1:{port}/api/v1/targets"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            active = json.load(answer)["data"]["activeTargets"]
    except (urllib.error.URLError, OSError):
        return {}
    return {t["labels"]["service"]: t["health"] for t in active}


@contextlib.contextmanager
def _brought_up(compose: Compose, services: list[str]) -> Iterator[None]:
    try:
        up = compose("up", "-d", "--no-build", *services, timeout=600)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield
    finally:
        logs = compose("logs", "--no-color", "--tail", "40")
        print(logs.stdout[-6000:])
        down = compose("down", "-v", "--remove-orphans", timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.timeout(2400)
def test_compose_brings_baton_up_restarts_a_killed_service_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    if not docker_answers():
        pytest.skip(
            "no Docker engine answers; `.ci/run` starts one (../shared/tools/docker-engine)"
        )
    assert shutil.which("docker-compose"), "docker-compose is needed: `make tools` installs it"
    services: dict[str, Any] = _compose_file()["services"]
    base_image_usable_by_an_unprivileged_user()  # Baton's image and the stand-ins build on it
    left_out = _images_at_hand(services)

    ports = {name: free_port() for name in ("pg", "nats", "nats_http", "prometheus")}
    metrics = {name: free_port() for name in CORE_SERVICE_NAMES}
    prometheus_config = tmp_path / "prometheus.yml"
    _prometheus_config(prometheus_config, metrics)
    env = docker_environment(
        {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "COMPOSE_"))}
    )
    env.update(
        # Compose's own wait for an answer from the engine (60 s by default). Where the engine
        # stores images with the vfs driver, creating a container copies its whole image, which
        # took longer than that for the Postgres stand-in on a busy 2-core machine.
        COMPOSE_HTTP_TIMEOUT="600",
        COMPOSE_TEST_PG_PORT=str(ports["pg"]),
        COMPOSE_TEST_NATS_PORT=str(ports["nats"]),
        COMPOSE_TEST_NATS_HTTP_PORT=str(ports["nats_http"]),
        COMPOSE_TEST_PROMETHEUS_PORT=str(ports["prometheus"]),
        COMPOSE_TEST_PROMETHEUS_CONFIG=str(prometheus_config),
        **{f"COMPOSE_TEST_{name.upper()}_PORT": str(port) for name, port in metrics.items()},
    )
    compose_file = _with_the_override(env, tmp_path / "docker-compose.host-network.yml")
    compose = Compose(f"batontest{secrets.token_hex(4)}", env, compose_file)
    built = compose("build", timeout=1500)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]

    started = time.monotonic()
    # Not the provider bridge (the `bridge` profile): it needs a provider's account.
    wanted = [n for n in services if n not in left_out and "profiles" not in services[n]]
    with _brought_up(compose, wanted):
        # The migration ran once and finished; then every Baton service turned healthy.
        _wait(lambda: compose.state("migrate", "{{.State.Status}}") == "exited", 300, "migrate")
        assert compose.state("migrate", "{{.State.ExitCode}}") == "0"
        healthy = "{{.State.Health.Status}}"
        _wait(lambda: all(compose.state(s, healthy) == "healthy" for s in CORE_SERVICE_NAMES), 300,
              "the services' healthchecks")  # fmt: skip
        time_to_healthy = time.monotonic() - started

        simulation_env = {k: v for k, v in env.items() if not k.startswith("COMPOSE_")}
        secret = services["assigner"]["environment"]["BATON_AUTH_SECRET"]
        simulation_env.update(
            BATON_NATS_URL=f"nats://127.0.0.1:{ports['nats']}", BATON_AUTH_SECRET=secret
        )
        simulation = subprocess.Popen(
            [sys.executable, "-m", "tools.cli.main", "simulate", "--contacts", "600",
             "--texters", "4", "--batch-size", "50", "--send-rate", "20", "--reply-rate", "0.3",
             "--unresponsive", "0", "--release-after-minutes", "0",
             "--reassign-after-seconds", "2", "--time-limit-seconds", "240", "--json"],
            env=simulation_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        # A crash mid-campaign: the sender's process dies as under the OOM killer. (`docker
        # kill` is a manual stop to the engine, which its restart policy leaves stopped.)
        _wait(lambda: simulation.poll() is not None or _sent_any(metrics["sender"]), 120,
              "the campaign's first texts")  # fmt: skip
        pid = int(compose.state("sender", "{{.State.Pid}}"))
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: compose.state("sender", "{{.RestartCount}}") != "0", 60, "the restart")
        _wait(lambda: service_ready(metrics["sender"]), 120, "the restarted sender's readiness")
        restart_seconds = time.monotonic() - killed_at

        report = finished_report(simulation, timeout=300)
        messages = report["messages"]
        assert messages["sent"] >= 600, messages
        assert messages["on_outbound"] == messages["sent"] + messages["opt_out_confirmations"]

        # Prometheus scrapes every Baton service (the scrape interval is 15 s).
        _wait(lambda: _targets(ports["prometheus"]) == dict.fromkeys(CORE_SERVICE_NAMES, "up"), 90,
              "every Baton target up in Prometheus")  # fmt: skip
        print(
            f"compose figures: healthy after {time_to_healthy:.1f} s; simulation "
            f"{json.dumps(messages)}; sender back and ready {restart_seconds:.1f} s after "
            f"SIGKILL; left out: {left_out or 'nothing'}"
        )
    assert compose.left_behind() == []


def _sent_any(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError):
        return False
    return any(
        line.startswith("baton_requests_total{") and f'subject="{api.SEND_INITIAL.subject}"' in line
        and not line.endswith(" 0.0")
        for line in text.splitlines()
    )  # fmt: skip
