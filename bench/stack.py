"""Start and stop the system the way production runs it, on a database of the bench's own.

Topology: N daphne processes share one TCP port through ``SO_REUSEPORT`` (the parent binds one
listening socket per process on the same port and hands it over with ``daphne --fd``), so the
kernel spreads new connections evenly across processes, the way a process manager or a load
balancer in front of several workers would. One django-q2 cluster (``manage.py qcluster``) runs
beside them. PostgreSQL is the one from ``DATABASE_URL`` or a separate embedded cluster in
``var/bench-pgdata``; the bench always works in a database it creates (and can drop) itself.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))
from ticketing.server.processes import cluster_command, daphne_command  # noqa: E402 (needs ROOT)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin"  # seed_demo's admin; prepare.py creates it when seed_demo did not run


def server_url() -> tuple[str, bool]:
    """URL of the PostgreSQL server (``DATABASE_URL`` or the embedded one), and whether the
    bench started that server itself (then it stops it at the end, as ``bin/run`` does)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], False
    os.environ.setdefault("TICKETING_PGDATA", str(ROOT / "var" / "bench-pgdata"))
    from ticketing.server.embedded_pg import PGDATA, ensure_running

    was_running = (PGDATA / "postmaster.pid").exists()
    return ensure_running(), not was_running


def server_stop() -> None:
    from ticketing.server.embedded_pg import stop

    stop()


def database_analyze(db_url: str) -> None:
    """Gather the planner's statistics of the bench database. A server in production has them
    from autovacuum; the bench's server lives for a minute or two per run, and autovacuum never
    got to its database: without statistics the planner hash-joined all 22,800 seats into every
    purchase's seat lock (most of PostgreSQL's CPU per request)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def database_url(url: str, name: str) -> str:
    """``url`` pointed at database ``name``.

    A unix-socket directory given as ``?host=`` moves into the host part (percent-encoded):
    dj-database-url only reads the host from there.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    netloc = parts.netloc
    if "host" in query:
        userinfo = netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""
        netloc = userinfo.replace(":@", "@") + quote(query.pop("host")[0], safe="")
    rest = "&".join(f"{k}={v[0]}" for k, v in query.items())
    return urlunsplit((parts.scheme, netloc, "/" + name, rest, ""))


def database_create(*, url: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``url``; returns its URL."""
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(url, name)


def database_drop(*, url: str, name: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_env(*, db_url: str, hold_seconds: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The production profile, for plain HTTP on loopback (no TLS redirect; HSTS is irrelevant)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ticketing.config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": db_url,
            "TICKETING_HOLD_SECONDS": str(hold_seconds),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def manage(*args: str, env: dict[str, str], capture: bool = False) -> str:
    done = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, text=True, capture_output=capture
    )
    return done.stdout if capture else ""


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(p) for p in text.split()]
    return kids + [g for k in kids for g in _children(k)]


@dataclass
class Stack:
    env: dict[str, str]
    port: int
    daphne: list[subprocess.Popen] = field(default_factory=list)
    qcluster: subprocess.Popen | None = None
    log_dir: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU used so far by each server role (daphne processes summed; the cluster with its workers)."""
        out = {"daphne": sum(_proc_cpu_seconds(p.pid) for p in self.daphne)}
        if self.qcluster:
            out["qcluster"] = sum(
                _proc_cpu_seconds(p) for p in [self.qcluster.pid, *_children(self.qcluster.pid)]
            )
        return out

    def alive(self) -> bool:
        procs = [*self.daphne, *([self.qcluster] if self.qcluster else [])]
        return all(p.poll() is None for p in procs)

    def stop(self) -> None:
        procs = [*self.daphne, *([self.qcluster] if self.qcluster else [])]
        for p in procs:
            if p.poll() is None and p is self.qcluster:
                # The whole group: a worker running the sweeper ends it at the next tick
                # (checkout/tasks.py); signalled alone, the parent waits out the run (~95 s).
                os.killpg(p.pid, signal.SIGINT)
            elif p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                if p is self.qcluster:
                    # The whole group again: killed alone, the parent leaves its cluster's
                    # processes running (polling, and taking CPU from the next run).
                    os.killpg(p.pid, signal.SIGKILL)
                else:
                    p.kill()
                p.wait()


def _listening_sockets(count: int) -> list[socket.socket]:
    """``count`` sockets listening on one free loopback port with SO_REUSEPORT."""
    socks: list[socket.socket] = []
    port = 0
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        port = s.getsockname()[1]
        # 2,000 visitors connect within seconds: a deep accept queue instead of SYN retries.
        s.listen(4096)
        s.set_inheritable(True)
        socks.append(s)
    return socks


def stack_start(*, env: dict[str, str], processes: int, log_dir: Path, timeout: float = 90) -> Stack:
    """Spawn the daphne processes and the task cluster; return once HTTP answers."""
    log_dir.mkdir(parents=True, exist_ok=True)
    socks = _listening_sockets(processes)
    stack = Stack(env=env, port=socks[0].getsockname()[1], log_dir=log_dir)
    try:
        for i, s in enumerate(socks):
            log = open(log_dir / f"daphne-{i}.log", "w")  # noqa: SIM115 (lives as long as the child)
            stack.daphne.append(
                subprocess.Popen(
                    # -v 0: no access log; a front proxy keeps that in production.
                    daphne_command(s.fileno(), "-v", "0"),
                    cwd=ROOT,
                    env=env,
                    pass_fds=(s.fileno(),),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        log = open(log_dir / "qcluster.log", "w")  # noqa: SIM115
        stack.qcluster = subprocess.Popen(
            cluster_command(),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        for s in socks:
            s.close()
    _wait_ready(stack, timeout)
    return stack


def _wait_ready(stack: Stack, timeout: float) -> None:
    """Until several fresh connections in a row get an answer (each may land on another process)."""
    deadline = time.monotonic() + timeout
    ok = 0
    while ok < 4 * len(stack.daphne):
        if not stack.alive():
            stack.stop()
            raise RuntimeError(f"a server process exited during start-up; see {stack.log_dir}")
        if time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError(f"the server did not answer within {timeout:.0f}s; see {stack.log_dir}")
        try:
            httpx.get(stack.base_url + "/api/docs", timeout=5, trust_env=False)
            ok += 1
        except httpx.TransportError:
            ok = 0
            time.sleep(0.3)
