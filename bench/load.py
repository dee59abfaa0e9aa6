"""The load generator: asyncio + httpx + websockets, loopback only, bounded in time.

Every request is recorded as (phase, label, start, latency, status). Status 0 means the request
never got an answer (connection refused, reset or timed out). Scenarios whose endpoint answers
404 (Django's HTML page: no such route) or 405 are reported as skipped, not as failures, so the
harness runs while features are still being built.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import ssl
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import httpx
import rawload
from websockets.asyncio.client import connect as ws_connect

# The test payment provider's approving card (checkout/payments.py CARD_APPROVE); override
# with BENCH_CARD_NUMBER.
APPROVING_CARD = "4242424242424242"

CATEGORIES = ["music", "sports", "comedy", "theatre", "family", "other"]
CITIES = ["Berlin", "London", "New York"]
SEARCH_WORDS = ["arena", "jazz", "final", "night", "live", "magic"]


# A visitor gives up on a request after this long; it is recorded as "no answer" (status 0).
REQUEST_DEADLINE = 30.0


def log(msg: str) -> None:
    """A progress line of a benchmark run, timed."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Recorder:
    """Every request's outcome, plus websocket and business counters.

    ``max_requests`` bounds the run in requests as the phases bound it in time: once reached,
    scenarios stop sending.
    """

    def __init__(self, max_requests: int = 1_000_000) -> None:
        self.max_requests = max_requests
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.samples: list[tuple[str, str, float, float, int]] = []
        self.counters: Counter[str] = Counter()
        self.notes: dict[str, Any] = {}

    def add(self, phase: str, label: str, start: float, latency: float, status: int) -> None:
        self.samples.append((phase, label, start - self.t0, latency, status))

    def now(self) -> float:
        return time.monotonic() - self.t0

    def running(self, stop: float) -> bool:
        return time.monotonic() < stop and len(self.samples) < self.max_requests


async def loop_lag(rec: Recorder) -> None:
    """How late the load generator's event loop wakes up: when this grows, the figures
    measure the load generator, not the server. Runs until cancelled."""
    lags = rec.notes.setdefault("loop_lag", [])
    while True:
        t = time.monotonic()
        await asyncio.sleep(0.1)
        lags.append(time.monotonic() - t - 0.1)


async def gather_until(coros: list, deadline: float) -> list:
    """Run ``coros`` together; cancel whatever still runs at ``deadline``. Results in order
    (None for a cancelled one). A scenario that crashed re-raises: a harness bug is loud."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()
    return [None if t.cancelled() else t.result() for t in tasks]


@dataclass
class Resp:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        """A 2xx answer (status 0, no answer at all, is not)."""
        return 200 <= self.status < 300

    @property
    def code(self) -> str | None:
        data = self.json()
        return data.get("code") if isinstance(data, dict) else None

    @property
    def route_missing(self) -> bool:
        """The route does not exist (yet): Django's HTML 404, or 405 from a sibling route."""
        if self.status == 405:
            return True
        return self.status == 404 and "json" not in self.headers.get("content-type", "")


async def call(
    client: httpx.AsyncClient,
    rec: Recorder,
    phase: str,
    label: str,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    keep_body: bool = True,
) -> Resp:
    """One request, timed from send to the last byte of the body."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(REQUEST_DEADLINE):
            resp, body = await _send(client, method, url, json_body, headers, keep_body)
        status, resp_headers = resp.status_code, resp.headers
    except (httpx.HTTPError, TimeoutError):
        status, resp_headers, body = 0, httpx.Headers(), b""
    rec.add(phase, label, start, time.monotonic() - start, status)
    return Resp(status, resp_headers, body)


async def _send(client, method, url, json_body, headers, keep_body) -> tuple[httpx.Response, bytes]:
    if keep_body:
        resp = await client.request(method, url, json=json_body, headers=headers)
        return resp, resp.content
    # Read the raw (still gzipped) bytes: a browser downloads them too, but decoding
    # 2,000 seat maps would only burn the load generator's CPU.
    async with client.stream(method, url, json=json_body, headers=headers) as resp:
        async for _ in resp.aiter_raw():
            pass
    return resp, b""


def seat_ids_in(obj: Any, inside: bool = False) -> set[int]:
    """Integers that look like seat ids in a websocket message of unknown exact shape.

    Anything under a key containing "seat" counts: lists of ints, objects' "id", digit keys.
    """
    found: set[int] = set()
    if isinstance(obj, dict):
        # A message typed as being about seats ({"type": "seats.update", "free": [...]}) holds
        # seat ids under any key.
        typed = "seat" in str(obj.get("type", "")).lower()
        for key, value in obj.items():
            hit = inside or typed or "seat" in str(key).lower()
            if hit and isinstance(key, str) and key.isdigit():
                found.add(int(key))
            if hit and key in ("id", "seat_id", "seat") and isinstance(value, int):
                found.add(value)
            found |= seat_ids_in(value, hit)
    elif isinstance(obj, list):
        for value in obj:
            if inside and isinstance(value, int):
                found.add(value)
            else:
                found |= seat_ids_in(value, inside)
    return found


def order_id_of(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    for key in ("id", "order_id"):
        if isinstance(body.get(key), int):
            return body[key]
    order = body.get("order")
    return order.get("id") if isinstance(order, dict) else None


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Ctx:
    base: str
    rec: Recorder
    client: httpx.AsyncClient
    hot_event: int
    other_events: list[int]
    hot_sections: list[int]
    contended_rows: list[list[int]]
    buyers: list[dict]
    card: str
    # Visitors spread over several small pools: httpcore's pool bookkeeping grows with the
    # square of its size, and one pool of 1,000+ connections would slow the load generator.
    browse_clients: list[httpx.AsyncClient] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    # seat id -> monotonic time its hold request was sent (for live seat-map notice latency)
    hold_sent: dict[int, float] = field(default_factory=dict)
    # order id -> "paid" | "cancelled" | "unknown" (a cancel that got no answer)
    orders: dict[int, str] = field(default_factory=dict)

    def auth(self, user: dict) -> dict[str, str]:
        return {"Authorization": f"Bearer {user['token']}"}

    @property
    def origin(self) -> str:
        return self.base

    def ws_url(self, event_id: int) -> str:
        return self.base.replace("http://", "ws://") + f"/ws/events/{event_id}/"


def new_client(*, connections: int, timeout: float = 30, keepalive: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout,
        trust_env=False,
        # Plain HTTP on loopback; one context for all clients (each would load the CA bundle, ~19 ms).
        verify=_ssl_context(),
        limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=keepalive
        ),
        headers={"Accept-Encoding": "gzip"},
    )


@cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def own_clients(ctx: Ctx, n: int) -> list[Ctx]:
    """``n`` copies of ``ctx``, each with a client of its own (one connection): for closed-loop
    buyers, who never have two requests in flight. httpcore's pool walks all its connections
    (polling each idle socket) and, for the keep-alive limit, once more per connection, on
    every request and every response (encode/httpx#3215, encode/httpcore#1035): one pool of
    64 connections made the load generator the bottleneck at 64 buyers (never idle, two thirds
    of its time in ``_assign_requests_to_connections``, 6.7 ms of its CPU per request against
    1.3 ms with a pool per buyer, while daphne's request threads idled 74% of the time).
    The copies share everything else (recorder, orders, counters). Close them with
    ``close_clients``."""
    return [replace(ctx, client=new_client(connections=1)) for _ in range(n)]


async def close_clients(ctxs: list[Ctx]) -> None:
    await asyncio.gather(*(c.client.aclose() for c in ctxs))


# --- probes -------------------------------------------------------------------------------


async def probe(ctx: Ctx) -> None:
    """Find out which features the server has; fill ``ctx.missing`` with reasons."""
    rec, c = ctx.rec, ctx.client
    checks = {
        "ping": ("GET", "/api/ping"),
        "list": ("GET", "/api/events"),
        "detail": ("GET", f"/api/events/{ctx.hot_event}"),
        "seats": ("GET", f"/api/events/{ctx.hot_event}/seats"),
    }
    for name, (method, path) in checks.items():
        r = await call(c, rec, "probe", name, method, ctx.base + path)
        if r.route_missing:
            ctx.missing[name] = f"skipped: endpoint missing ({method} {path} -> {r.status})"
    if "ping" in ctx.missing:
        r = await call(c, rec, "probe", "healthz", "GET", ctx.base + "/healthz")
        if r.status == 200:
            ctx.missing.pop("ping")
            rec.notes["ping_path"] = "/healthz"
    rec.notes.setdefault("ping_path", "/api/ping")
    for name, path in (
        ("detail", f"/api/events/{ctx.hot_event}"),
        ("seats", f"/api/events/{ctx.hot_event}/seats"),
    ):
        if name not in ctx.missing:
            r = await call(c, rec, "probe", name, "GET", ctx.base + path)
            if not r.headers.get("etag"):
                ctx.missing[name + "_304"] = f"skipped: {path} sends no ETag"
    # Writes: a request the route rejects for its content still proves the route exists.
    user = ctx.buyers[0]
    r = await call(
        c,
        rec,
        "probe",
        "holds",
        "POST",
        ctx.base + f"/api/events/{ctx.hot_event}/holds",
        json_body={},
        headers=ctx.auth(user),
    )
    if r.route_missing:
        ctx.missing["holds"] = f"skipped: endpoint missing (POST /api/events/{{id}}/holds -> {r.status})"
    r = await call(
        c,
        rec,
        "probe",
        "purchase",
        "POST",
        ctx.base + "/api/holds/0/purchase",
        json_body={},
        headers=ctx.auth(user),
    )
    if r.route_missing:
        ctx.missing["purchase"] = f"skipped: endpoint missing (POST /api/holds/{{id}}/purchase -> {r.status})"
    r = await call(
        c,
        rec,
        "probe",
        "waitlist",
        "POST",
        ctx.base + f"/api/events/{ctx.hot_event}/waitlist",
        json_body={},
        headers=ctx.auth(user),
    )
    if r.route_missing:
        ctx.missing["waitlist"] = (
            f"skipped: endpoint missing (POST /api/events/{{id}}/waitlist -> {r.status})"
        )
    try:
        async with ws_connect(ctx.ws_url(ctx.hot_event), origin=ctx.origin, proxy=None, open_timeout=10):
            pass
    except Exception as exc:  # any refusal of the handshake means: no websocket route yet
        ctx.missing["websocket"] = (
            f"skipped: websocket missing (/ws/events/{{id}}/: {exc.__class__.__name__})"
        )


# --- capacity: closed-loop saturation per endpoint ------------------------------------------


async def capacity(ctx: Ctx, *, concurrency: int, seconds: float, rounds: int = 5) -> dict[str, dict]:
    """Each read endpoint alone, closed loop at ``concurrency``: the requests/s it sustains.

    Runs before the sale starts, so inventory is still and cached endpoints hit their cache.
    The load comes from ``rawload`` worker processes, not this process's httpx client (which
    would be the bottleneck), in ``rounds`` interleaved runs sharing ``seconds`` per endpoint;
    the requests/s reported is the median round.
    """
    hot = ctx.hot_event
    targets: list[tuple[str, str, str, str | None]] = [
        ("ping", "GET " + ctx.rec.notes["ping_path"], ctx.rec.notes["ping_path"], None)
    ]
    etags: dict[str, str] = {}
    for name, path in (("detail", f"/api/events/{hot}"), ("seats", f"/api/events/{hot}/seats")):
        if name not in ctx.missing and name + "_304" not in ctx.missing:
            r = await call(ctx.client, ctx.rec, "probe", name, "GET", ctx.base + path)
            etags[name] = r.headers.get("etag", "")
    targets += [
        ("list", "GET /api/events?category=music", "/api/events?category=music", None),
        ("detail", "GET /api/events/{id}", f"/api/events/{hot}", None),
        ("detail_304", "GET /api/events/{id} If-None-Match", f"/api/events/{hot}", etags.get("detail")),
        ("seats", "GET /api/events/{id}/seats", f"/api/events/{hot}/seats", None),
        (
            "seats_304",
            "GET /api/events/{id}/seats If-None-Match",
            f"/api/events/{hot}/seats",
            etags.get("seats"),
        ),
    ]
    out: dict[str, dict] = {}
    paths: dict[str, tuple[str, dict[str, str] | None]] = {}
    for key, label, path, etag in targets:
        feature = key.split("_")[0]
        if feature in ctx.missing or key in ctx.missing:
            out[label] = {"skipped": ctx.missing.get(feature) or ctx.missing[key]}
            continue
        if key.endswith("_304") and not etag:
            continue
        paths[label] = (path, {"If-None-Match": etag} if etag else None)
    port = httpx.URL(ctx.base).port
    procs = 2
    measured = await asyncio.to_thread(
        rawload.rounds,
        port,
        paths,
        rounds=rounds,
        seconds=seconds / rounds,
        procs=procs,
        threads=max(1, concurrency // procs),
    )
    out.update(measured)
    return out


# --- the on-sale mix ----------------------------------------------------------------------


async def browser(
    ctx: Ctx, i: int, *, n: int, ramp: float, stop: float, think: tuple[float, float], ws_share: float
) -> None:
    """One visitor: looks at the list, the event, the seat map; revalidates with If-None-Match."""
    rng = random.Random(i)
    client = ctx.browse_clients[i % len(ctx.browse_clients)] if ctx.browse_clients else ctx.client
    await asyncio.sleep(ramp * i / max(1, n))
    ws_task = None
    if "websocket" not in ctx.missing and rng.random() < ws_share:
        ws_task = asyncio.create_task(viewer_socket(ctx, stop))
    etags: dict[str, str] = {}
    hot = ctx.hot_event
    while ctx.rec.running(stop):
        roll = rng.random()
        if roll < 0.25 and "list" not in ctx.missing:
            params = [f"category={rng.choice(CATEGORIES)}"]
            if rng.random() < 0.5:
                params.append(f"city={rng.choice(CITIES).replace(' ', '+')}")
            if rng.random() < 0.3:
                params.append(f"q={rng.choice(SEARCH_WORDS)}")
            if rng.random() < 0.3:
                params.append("available=true")
            await call(
                client,
                ctx.rec,
                "onsale",
                "GET /api/events?filters",
                "GET",
                ctx.base + "/api/events?" + "&".join(params),
                keep_body=False,
            )
        elif roll < 0.75 and "detail" not in ctx.missing:
            await _revalidating_get(
                ctx, client, etags, "detail", f"/api/events/{hot}", "GET /api/events/{id}"
            )
        elif roll < 0.9 and "seats" not in ctx.missing:
            await _revalidating_get(
                ctx, client, etags, "seats", f"/api/events/{hot}/seats", "GET /api/events/{id}/seats"
            )
        elif "detail" not in ctx.missing and ctx.other_events:
            await call(
                client,
                ctx.rec,
                "onsale",
                "GET /api/events/{other}",
                "GET",
                ctx.base + f"/api/events/{rng.choice(ctx.other_events)}",
                keep_body=False,
            )
        await asyncio.sleep(rng.uniform(*think))
    if ws_task:
        await ws_task


async def _revalidating_get(
    ctx: Ctx, client: httpx.AsyncClient, etags: dict[str, str], key: str, path: str, label: str
) -> None:
    etag = etags.get(key)
    headers = {"If-None-Match": etag} if etag else None
    start = time.monotonic()
    try:
        async with asyncio.timeout(REQUEST_DEADLINE):
            resp, _ = await _send(client, "GET", ctx.base + path, None, headers, False)
        status = resp.status_code
        if resp.headers.get("etag"):
            etags[key] = resp.headers["etag"]
    except (httpx.HTTPError, TimeoutError):
        status = 0
    full_label = label + (" If-None-Match" if etag else "")
    ctx.rec.add("onsale", full_label, start, time.monotonic() - start, status)


async def viewer_socket(ctx: Ctx, stop: float, *, observer: bool = False) -> None:
    """An event page's websocket, held open until ``stop``; counts what it receives.

    The observer also matches seat ids in messages with the holds the buyers sent, for the
    time from a hold request to its notice on a viewer's socket.
    """
    rec = ctx.rec
    start = time.monotonic()
    try:
        async with ws_connect(
            ctx.ws_url(ctx.hot_event),
            origin=ctx.origin,
            proxy=None,
            compression=None,
            open_timeout=30,
            ping_interval=None,
            max_size=None,
        ) as ws:
            rec.add("onsale", "WS connect /ws/events/{id}/", start, time.monotonic() - start, 101)
            rec.counters["ws_open"] += 1
            while True:
                left = stop - time.monotonic()
                if left <= 0:
                    break
                try:
                    msg = await asyncio.wait_for(ws.recv(), timeout=left)
                except TimeoutError:
                    break
                got = time.monotonic()
                rec.counters["ws_messages"] += 1
                rec.counters["ws_bytes"] += len(msg)
                if observer:
                    _match_notice(ctx, msg, got)
    except Exception as exc:
        rec.add("onsale", "WS connect /ws/events/{id}/", start, time.monotonic() - start, 0)
        rec.counters["ws_failed"] += 1
        errors = rec.notes.setdefault("ws_errors", Counter())
        errors[f"{exc.__class__.__name__}: {str(exc)[:120]}"] += 1


def _match_notice(ctx: Ctx, msg: str | bytes, got: float) -> None:
    try:
        data = json.loads(msg)
    except ValueError:
        return
    for seat in seat_ids_in(data):
        sent = ctx.hold_sent.pop(seat, None)
        if sent is not None:
            ctx.rec.notes.setdefault("seat_notice_latencies", []).append(got - sent)


async def settle(ctx: Ctx, *, limit: float = 60.0) -> None:
    """Wait (up to ``limit``) until the server has drained the previous phase's backlog: three
    trivial requests in a row answered within 200 ms. Phases then do not measure each other."""
    if "ping" in ctx.missing:
        await asyncio.sleep(3)
        return
    path = ctx.rec.notes["ping_path"]
    end = time.monotonic() + limit
    fast = 0
    while fast < 3 and time.monotonic() < end:
        r = await call(ctx.client, ctx.rec, "probe", "settle", "GET", ctx.base + path)
        fast = fast + 1 if r.status == 200 and ctx.rec.samples[-1][3] < 0.2 else 0
        await asyncio.sleep(0.2)


async def ping_prober(ctx: Ctx, stop: float, phase: str) -> None:
    """The trivial endpoint, sampled through the whole phase as the stack's own floor."""
    if "ping" in ctx.missing:
        return
    while ctx.rec.running(stop):
        await call(
            ctx.client,
            ctx.rec,
            phase,
            "GET " + ctx.rec.notes["ping_path"],
            "GET",
            ctx.base + ctx.rec.notes["ping_path"],
            keep_body=False,
        )
        await asyncio.sleep(0.05)


async def buyer(ctx: Ctx, user: dict, i: int, *, stop: float, think: tuple[float, float]) -> None:
    """A checkout: hold (contended seats or best available), maybe extend, mostly purchase.

    Some abandon (the hold expires during the run), some release, some cancel after buying.
    """
    rng = random.Random(10_000 + i)
    rec, base, auth = ctx.rec, ctx.base, ctx.auth(user)
    while ctx.rec.running(stop):
        if ctx.contended_rows and rng.random() < 0.5:
            row = rng.choice(ctx.contended_rows)
            qty = rng.randint(1, min(4, len(row)))
            first = rng.randrange(0, len(row) - qty + 1)
            body: dict = {"seat_ids": row[first : first + qty]}
            label = "POST /api/events/{id}/holds seat_ids"
            for seat in body["seat_ids"]:
                ctx.hold_sent[seat] = time.monotonic()
        else:
            body = {"section_id": rng.choice(ctx.hot_sections), "quantity": rng.randint(1, 4)}
            label = "POST /api/events/{id}/holds best"
        r = await call(
            ctx.client,
            rec,
            "onsale",
            label,
            "POST",
            base + f"/api/events/{ctx.hot_event}/holds",
            json_body=body,
            headers=auth,
        )
        if r.status != 201:
            rec.counters[f"hold_{r.code or r.status}"] += 1
            if r.code == "HOLD_EXISTS":
                existing = (r.json() or {}).get("extra", {}).get("hold_id") or (r.json() or {}).get(
                    "extra", {}
                ).get("id")
                if existing:
                    await call(
                        ctx.client,
                        rec,
                        "onsale",
                        "DELETE /api/holds/{id}",
                        "DELETE",
                        base + f"/api/holds/{existing}",
                        headers=auth,
                    )
            wait = float(r.headers.get("retry-after", 0) or 0) if r.status == 503 else 0
            await asyncio.sleep(max(wait, rng.uniform(0.05, 0.3)))
            continue
        hold = r.json() or {}
        rec.counters["holds"] += 1
        for seat in seat_ids_in(hold):
            ctx.hold_sent.setdefault(seat, time.monotonic())
        hold_id = hold.get("id")
        await asyncio.sleep(rng.uniform(*think))
        fate = rng.random()
        if fate < 0.10:
            # Walks away: the hold expires on its own while the sale goes on.
            rec.counters["abandoned"] += 1
            expires = parse_time(hold.get("expires_at"))
            wait = (expires - time.time() + 1) if expires else 0
            await asyncio.sleep(max(0, min(wait, stop - time.monotonic())))
            continue
        if fate < 0.15:
            r = await call(
                ctx.client,
                rec,
                "onsale",
                "DELETE /api/holds/{id}",
                "DELETE",
                base + f"/api/holds/{hold_id}",
                headers=auth,
            )
            rec.counters["released" if r.ok else f"release_{r.code or r.status}"] += 1
            continue
        if fate < 0.30:
            r = await call(
                ctx.client,
                rec,
                "onsale",
                "POST /api/holds/{id}/extend",
                "POST",
                base + f"/api/holds/{hold_id}/extend",
                headers=auth,
            )
            rec.counters["extended" if r.ok else f"extend_{r.code or r.status}"] += 1
        order_id = await purchase(ctx, user, hold_id, rng, phase="onsale")
        if order_id and rng.random() < 0.10:
            await asyncio.sleep(rng.uniform(*think))
            r = await call(
                ctx.client,
                rec,
                "onsale",
                "POST /api/orders/{id}/cancel",
                "POST",
                base + f"/api/orders/{order_id}/cancel",
                headers=auth,
            )
            if r.ok:
                ctx.orders[order_id] = "cancelled"
                rec.counters["cancelled"] += 1
            else:
                if r.status == 0:  # it may still commit: either outcome is then right
                    ctx.orders[order_id] = "unknown"
                rec.counters[f"cancel_{r.code or r.status}"] += 1
        await asyncio.sleep(rng.uniform(*think))


async def purchase(
    ctx: Ctx,
    user: dict,
    hold_id: int,
    rng: random.Random,
    *,
    phase: str,
    label: str = "POST /api/holds/{id}/purchase",
) -> int | None:
    """Pay for a hold with an Idempotency-Key; now and then submit twice, as a double click does."""
    key = str(uuid.uuid4())
    body = {"buyer_name": user["email"].split("@")[0], "buyer_email": user["email"], "card_number": ctx.card}
    headers = {**ctx.auth(user), "Idempotency-Key": key}
    url = ctx.base + f"/api/holds/{hold_id}/purchase"
    r = await call(ctx.client, ctx.rec, phase, label, "POST", url, json_body=body, headers=headers)
    if not r.ok:
        ctx.rec.counters[f"purchase_{r.code or r.status}"] += 1
        return None
    order_id = order_id_of(r.json())
    if order_id is None:
        ctx.rec.counters["purchase_without_order_id"] += 1
        return None
    ctx.orders[order_id] = "paid"
    ctx.rec.counters["purchased"] += 1
    if phase == "onsale" and rng.random() < 0.05:
        again = await call(
            ctx.client, ctx.rec, phase, label + " replay", "POST", url, json_body=body, headers=headers
        )
        same = again.ok and order_id_of(again.json()) == order_id
        ctx.rec.counters["replay_same_order" if same else "replay_different_answer"] += 1
    return order_id


# --- throughput: closed-loop buyers, one seat per order -------------------------------------


async def throughput_level(
    ctx: Ctx, *, event_id: int, sections: list[int], level: int, accounts: list[dict], seconds: float
) -> dict:
    """``level`` closed-loop buyers: each holds 1 best-available seat then buys it, sending the
    next request as soon as the last returns. Tickets count when their purchase completes
    inside the window.

    Each pass of a buyer is made by the next of ``accounts`` (``cpu_profile.py`` does the
    same): one account holding several seats a second is throttled per account
    (``TICKETING_THROTTLE_HOLD_USER``), and those 429s measured the bench, not the system.
    The accounts are shared out round-robin, so each makes ``1 / len(accounts)`` of the holds.
    """
    phase = f"throughput-{level}"
    stop = time.monotonic() + seconds
    sold = 0
    checkout_times: list[float] = []
    open_sections = list(sections)

    buyers = own_clients(ctx, level)

    async def one(i: int) -> None:
        nonlocal sold
        ctx = buyers[i]
        rng = random.Random(20_000 + i)
        turn = 0
        while ctx.rec.running(stop) and open_sections:
            user = accounts[(i + turn * level) % len(accounts)]
            turn += 1
            started = time.monotonic()
            section = rng.choice(open_sections)
            r = await call(
                ctx.client,
                ctx.rec,
                phase,
                "hold",
                "POST",
                ctx.base + f"/api/events/{event_id}/holds",
                json_body={"section_id": section, "quantity": 1},
                headers=ctx.auth(user),
            )
            if r.status != 201:
                ctx.rec.counters[f"{phase}_hold_{r.code or r.status}"] += 1
                if r.code == "SEATS_UNAVAILABLE" and section in open_sections:
                    open_sections.remove(section)
                continue
            order_id = await purchase(
                ctx, user, (r.json() or {}).get("id"), rng, phase=phase, label="purchase"
            )
            if order_id and time.monotonic() <= stop:
                sold += 1
                checkout_times.append(time.monotonic() - started)

    started = time.monotonic()
    try:
        await asyncio.gather(*(one(i) for i in range(level)))
    finally:
        await close_clients(buyers)
    return {
        "buyers": level,
        "accounts": len(accounts),
        "seconds": seconds,
        "tickets": sold,
        "tickets_per_minute": sold * 60 / seconds,
        "checkout_times": checkout_times,
        "elapsed": time.monotonic() - started,
    }


# --- waitlist: time from a cancellation / an expiry to the offer message -----------------------


async def waitlist_scenario(
    ctx: Ctx,
    *,
    event_id: int,
    seat_ids: list[int],
    sellers: list[dict],
    waiters: list[dict],
    grace: float,
    armed: asyncio.Event,
    go: asyncio.Event,
) -> dict:
    """Sell out a small event (half bought, half held and abandoned) and queue ``waiters`` on
    its waitlist with their websockets open, then set ``armed``. Once ``go`` is set (the load
    is running), cancel the bought orders one by one, let the holds expire, and time each offer
    message from its release; listen until ``grace`` seconds after the last release."""
    rec, base = ctx.rec, ctx.base
    phase = "waitlist"
    half = len(seat_ids) // 2
    orders: list[tuple[int, dict, list[int]]] = []
    expiring: list[tuple[float, list[int]]] = []
    for i, (user, seat) in enumerate(zip(sellers, seat_ids, strict=False)):
        r = await call(
            ctx.client,
            rec,
            phase,
            "hold",
            "POST",
            base + f"/api/events/{event_id}/holds",
            json_body={"seat_ids": [seat]},
            headers=ctx.auth(user),
        )
        if r.status != 201:
            armed.set()
            return {"error": f"could not sell out the waitlist event: hold -> {r.status} {r.code}"}
        hold = r.json() or {}
        if i < half:
            order_id = await purchase(ctx, user, hold["id"], random.Random(i), phase=phase, label="purchase")
            if not order_id:
                armed.set()
                return {"error": "could not sell out the waitlist event: purchase failed"}
            orders.append((order_id, user, [seat]))
        else:
            expiring.append((parse_time(hold.get("expires_at")) or time.time(), [seat]))

    offers: list[tuple[float, int, Any]] = []  # (wall time, waiter index, message)
    ready = asyncio.Event()
    joined = 0
    limit = {"t": time.monotonic() + 3600}  # set once the releases are scheduled

    async def waiter(idx: int, user: dict) -> None:
        nonlocal joined
        headers = {"Cookie": f"sessionid={user['session']}"}
        try:
            async with ws_connect(
                ctx.ws_url(event_id),
                origin=ctx.origin,
                proxy=None,
                compression=None,
                additional_headers=headers,
                open_timeout=30,
                ping_interval=None,
            ) as ws:
                while joined < idx:  # join in a known order: the queue is first come, first served
                    await asyncio.sleep(0.01)
                r = await call(
                    ctx.client,
                    rec,
                    phase,
                    "POST /api/events/{id}/waitlist",
                    "POST",
                    base + f"/api/events/{event_id}/waitlist",
                    json_body={"quantity": 1},
                    headers=ctx.auth(user),
                )
                if not r.ok:
                    rec.counters[f"waitlist_join_{r.code or r.status}"] += 1
                joined += 1
                if joined == len(waiters):
                    ready.set()
                while time.monotonic() < limit["t"]:
                    try:
                        msg = await asyncio.wait_for(ws.recv(), timeout=1.0)
                    except TimeoutError:
                        continue
                    got = time.time()
                    try:
                        data = json.loads(msg)
                    except ValueError:
                        continue
                    if "offer" in str(data.get("type", "") if isinstance(data, dict) else "").lower():
                        offers.append((got, idx, data))
                        return
        except Exception as exc:
            rec.counters[f"waitlist_ws_{exc.__class__.__name__}"] += 1
            joined = max(joined, idx + 1)
            if joined >= len(waiters):
                ready.set()

    tasks = [asyncio.create_task(waiter(i, u)) for i, u in enumerate(waiters)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.wait(), timeout=60)
    armed.set()
    await go.wait()
    last_expiry = max((t for t, _ in expiring), default=time.time())
    limit["t"] = (
        max(time.monotonic() + last_expiry - time.time(), time.monotonic() + 0.5 * len(orders)) + grace
    )
    cancels: list[tuple[float, list[int]]] = []
    for order_id, user, seats in orders:
        sent = time.time()
        r = await call(
            ctx.client,
            rec,
            phase,
            "POST /api/orders/{id}/cancel",
            "POST",
            base + f"/api/orders/{order_id}/cancel",
            headers=ctx.auth(user),
        )
        if r.ok:
            ctx.orders[order_id] = "cancelled"
            cancels.append((sent, seats))
        elif r.status == 0:
            ctx.orders[order_id] = "unknown"
            rec.counters["waitlist_cancel_no_answer"] += 1
        await asyncio.sleep(0.5)
    await asyncio.gather(*tasks)
    return match_offers(cancels=cancels, expiries=expiring, offers=offers, waiters=len(waiters))


def match_offers(
    *,
    cancels: list[tuple[float, list[int]]],
    expiries: list[tuple[float, list[int]]],
    offers: list[tuple[float, int, Any]],
    waiters: int,
) -> dict:
    """Pair each offer with the release that caused it: by seat id when the message names seats,
    else by queue order (the k-th waiter gets the k-th released seat)."""
    releases = sorted([(t, "cancellation", s) for t, s in cancels] + [(t, "expiry", s) for t, s in expiries])
    by_seat = {seat: (t, kind) for t, kind, seats in releases for seat in seats}
    latencies: dict[str, list[float]] = {"cancellation": [], "expiry": []}
    for got, idx, data in sorted(offers):
        seats = [s for s in seat_ids_in(data) if s in by_seat]
        if seats:
            t, kind = by_seat[seats[0]]
        elif idx < len(releases):
            t, kind, _ = releases[idx]
        else:
            continue
        latencies[kind].append(got - t)
    return {
        "waiters": waiters,
        "releases": {"cancellation": len(cancels), "expiry": len(expiries)},
        "offers_received": len(offers),
        "latencies": latencies,
    }
