"""The commands of the processes a deployment runs: one daphne per core, one task cluster.

``bin/run`` starts them, and the benchmark's stack (``bench/stack.py``) starts the same
commands, so what is measured is what runs. Standard library only: ``bin/run`` imports this
before Django is set up.
"""

from __future__ import annotations

import sys

ASGI_APPLICATION = "ticketing.config.asgi:application"


def daphne_command(fd: int, *options: str) -> list[str]:
    """A daphne process serving the listening socket ``fd`` (inherited); ``options`` such as
    its verbosity."""
    return [
        sys.executable,
        "-m",
        "daphne",
        "--fd",
        str(fd),
        *options,
        # daphne drops a websocket whose handshake the application has not answered within 5 s
        # by default; at an on-sale's opening thousands of sign-in lookups queue for it
        # (measured: 130 of 2,000 waiting-room sockets dropped). A page would retry with
        # backoff; waiting is kinder.
        "--websocket_connect_timeout",
        "30",
        ASGI_APPLICATION,
    ]


def cluster_command() -> list[str]:
    """The django-q2 cluster, at the lowest CPU priority: at an on-sale its e-mails (a PDF and
    QR codes each) took up to a core from checkouts (bench/onsale.py --waiting-room); niced they
    wait and catch up once the rush is over. The hold sweeper runs there too (a few cheap
    statements a minute; an expired hold is free at read time whenever it runs)."""
    return ["nice", "-n", "19", sys.executable, "manage.py", "qcluster"]
