"""Server CPU per request, one scenario at a time, optionally with a py-spy profile.

The on-sale benchmark says how fast the whole system is on a (possibly busy) machine; this
says what one request costs the server, which stays comparable when other jobs share the
cores: daphne and PostgreSQL CPU-milliseconds per request, measured from /proc.

    .venv/bin/python bench/cpu_profile.py --scenario checkout --concurrency 64 --seconds 20
    .venv/bin/python bench/cpu_profile.py --scenario ping --spy var/ping.txt   # + py-spy --gil

Scenarios: ``ping`` (GET /api/ping), ``detail`` (GET /api/events/{id}), ``checkout`` (closed
loop: hold 1 best-available seat, then buy it); ``--types`` puts ticket types and codes in play
(issue 20): a capped early bird the default picks for every seat, a promo code on every hold,
and fees. The database ``ticketing_bench_profile`` is
created and seeded on first use and kept for the next runs (``--fresh`` rebuilds it).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
import stack as stack_mod
from onsale import event_create, event_layout, log, pg_cpu_seconds, staff_call, staff_token

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("PROFILE_DB_NAME", "ticketing_bench_profile")
USERS_FILE = ROOT / "var" / "bench-profile-users.json"


def database(server: str, fresh: bool) -> tuple[str, list[dict]]:
    url = stack_mod.database_url(server, DB_NAME)
    if not fresh and USERS_FILE.exists():
        try:
            with psycopg.connect(url):
                return url, json.loads(USERS_FILE.read_text())
        except psycopg.OperationalError:
            pass
    url = stack_mod.database_create(url=server, name=DB_NAME)
    env = stack_mod.production_env(db_url=url, hold_seconds=300)
    stack_mod.manage("migrate", "--no-input", "-v", "0", env=env)
    stack_mod.manage("collectstatic", "--no-input", "-v", "0", env=env)
    log("seed_demo (Grand Arena, 20,000 seats)")
    stack_mod.manage("seed_demo", env=env, capture=True)
    users = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "prepare.py"), "--users", "400"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    USERS_FILE.parent.mkdir(exist_ok=True)
    USERS_FILE.write_text(users)
    return url, json.loads(users)


async def drive(args, base: str, event_id: int, sections: list[int], users: list[dict]) -> list[tuple]:
    rec = load.Recorder()
    # Worker 0's client; the others get one each (load.own_clients): one shared pool of N
    # connections costs the load generator O(N) per request, and at 64 workers it, not the
    # server, was the limit.
    client = load.new_client(connections=1)
    stop = time.monotonic() + args.seconds
    ctx = load.Ctx(
        base=base,
        rec=rec,
        client=client,
        hot_event=event_id,
        other_events=[],
        hot_sections=sections,
        contended_rows=[],
        buyers=users,
        card=load.APPROVING_CARD,
    )

    ctxs = [ctx, *load.own_clients(ctx, args.concurrency - 1)]

    async def worker(i: int) -> None:
        ctx = ctxs[i]
        client = ctx.client
        rng = random.Random(i)
        turn = 0
        while time.monotonic() < stop:
            # Each pass is another buyer: one account making several holds a second would be
            # throttled (429), and those cheap answers would water down the cost per checkout.
            user = users[(i + turn * args.concurrency) % len(users)]
            turn += 1
            if args.scenario == "ping":
                await load.call(client, rec, "p", "ping", "GET", base + "/api/ping")
            elif args.scenario == "detail":
                await load.call(client, rec, "p", "detail", "GET", base + f"/api/events/{event_id}")
            else:
                r = await load.call(
                    client,
                    rec,
                    "p",
                    "hold",
                    "POST",
                    base + f"/api/events/{event_id}/holds",
                    json_body={"section_id": rng.choice(sections), "quantity": 1}
                    | ({"codes": ["BENCH"]} if args.types else {}),
                    headers=ctx.auth(user),
                )
                if r.status == 201:
                    await load.purchase(ctx, user, (r.json() or {})["id"], rng, phase="p", label="purchase")

    try:
        await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    finally:
        await load.close_clients(ctxs)
    return rec.samples


def summarize_spy(path: Path, top: int = 45) -> str:
    """Inclusive share of the samples per function (py-spy's raw, collapsed-stack output)."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n)
        frames = {
            re.sub(r":\d+\)$", ")", re.sub(r" \(/\S*site-packages/", " (", f)) for f in stack.split(";")
        }
        for frame in frames:
            inclusive[frame] += int(n)
    lines = [f"{100 * v / max(total, 1):5.1f}% {k[:140]}" for k, v in inclusive.most_common(top)]
    return f"{total} samples (GIL holder only)\n" + "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=("ping", "detail", "checkout"), default="checkout")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--spy", type=Path, help="write py-spy's raw profile of daphne #1 here (a .svg path: a flame graph)"
    )
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--types", action="store_true", help="checkout with a capped type, a promo code, fees"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the servers")
    args = parser.parse_args()

    server, own_server = stack_mod.server_url()
    try:
        return measure(args, server)
    finally:
        if own_server:
            stack_mod.server_stop()


def measure(args: argparse.Namespace, server: str) -> int:
    db_url, users = database(server, args.fresh)
    stack_mod.database_analyze(db_url)
    extra = dict(item.split("=", 1) for item in args.env)
    env = stack_mod.production_env(db_url=db_url, hold_seconds=300, extra=extra)
    run = stack_mod.stack_start(
        env=env, processes=args.processes, log_dir=ROOT / "var" / "bench-profile-logs"
    )
    try:
        token = staff_token(run.base_url)
        venue_id, sections = _arena(db_url)
        event_id = event_create(run.base_url, token, venue_id=venue_id, section_ids=sections, title="Profile")
        if args.types:
            _types_in_play(run.base_url, token, event_id, sections)
        sections, _ = event_layout(db_url, event_id, contended_rows=1)
        spy = None
        if args.spy:
            pyspy = str(Path(sys.executable).parent / "py-spy")
            pid = str(run.daphne[0].pid)
            # A path ending in .svg gets py-spy's flame graph instead of the raw stacks.
            fmt = "flamegraph" if args.spy.suffix == ".svg" else "raw"
            spy_args = ["record", "--gil", "--nonblocking", "-r", "200", "-f", fmt, "-p", pid]
            spy_args += ["-d", str(int(args.seconds)), "-o", str(args.spy)]
            spy = subprocess.Popen(
                [pyspy, *spy_args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        cpu0, pg0, t0 = run.cpu_seconds()["daphne"], pg_cpu_seconds() or 0, time.monotonic()
        gen0 = time.process_time()
        samples = asyncio.run(drive(args, run.base_url, event_id, sections, users))
        cpu1, pg1, wall = run.cpu_seconds()["daphne"], pg_cpu_seconds() or 0, time.monotonic() - t0
        gen = time.process_time() - gen0
        if spy:
            spy.wait(timeout=args.seconds + 30)
    finally:
        run.stop()
    done = [s for s in samples if s[4]]
    latencies = sorted(s[3] for s in done)
    statuses = collections.Counter(s[4] for s in samples)
    n = max(len(done), 1)
    print(
        json.dumps(
            {
                "scenario": args.scenario,
                "concurrency": args.concurrency,
                "processes": args.processes,
                "requests": len(done),
                "req_per_s": round(len(done) / wall, 1),
                "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
                "daphne_cpu_ms_per_request": round(1000 * (cpu1 - cpu0) / n, 2),
                "postgres_cpu_ms_per_request": round(1000 * (pg1 - pg0) / n, 2),
                # The load generator's own process. Once its share of the cores nears what it can
                # get (one core at most; less beside the servers on 2 cores), the figures measure
                # it, not the server: 6.7 ms per request at 64 workers on one shared pool, 1.3 now.
                "loadgen_cpu_ms_per_request": round(1000 * gen / n, 2),
                "loadgen_cpu_share": round(gen / wall, 2),
                "statuses": dict(statuses),
                "env": extra,
                "types": args.types,
            }
        )
    )
    if args.spy and args.spy.exists() and args.spy.suffix != ".svg":
        print(summarize_spy(args.spy))
    return 0


def _types_in_play(base: str, token: str, event_id: int, sections: list[int]) -> None:
    """An early bird cheaper than the standard price (so the default for every seat) with a cap
    no run reaches, a promo code without a limit, and both fees."""
    prices = [{"section_id": s, "amount": "39.00"} for s in sections]
    body = {"name": "Early bird", "quota": 1_000_000, "prices": prices}
    staff_call(base, token, "POST", f"/api/events/{event_id}/ticket-types", body)
    body = {"kind": "promo", "code": "BENCH", "discount_kind": "percent", "discount_value": "10"}
    staff_call(base, token, "POST", f"/api/events/{event_id}/codes", body)
    staff_call(
        base, token, "PUT", f"/api/events/{event_id}/fees", {"service_fee": "1.50", "order_fee": "2.00"}
    )


def _arena(db_url: str) -> tuple[int, list[int]]:
    with psycopg.connect(db_url) as conn:
        venue_id = conn.execute("SELECT id FROM events_venue WHERE slug = 'grand-arena'").fetchone()[0]
        sections = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM events_section WHERE venue_id = %s ORDER BY display_order, id", [venue_id]
            ).fetchall()
        ]
    return venue_id, sections


if __name__ == "__main__":
    sys.exit(main())
