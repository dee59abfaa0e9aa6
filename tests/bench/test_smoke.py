"""The benchmark cannot rot: its smoke mode runs end to end, in its own throwaway database,
and every invariant holds. Timings are printed by the bench, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_smoke_bench_runs_and_the_invariants_hold(tmp_path):
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        # Reuse the project's embedded cluster (already up for the test run) instead of a second one.
        from ticketing.server.embedded_pg import PGDATA

        env["TICKETING_PGDATA"] = str(PGDATA)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "onsale.py"), "--smoke", "--out", str(tmp_path), "--drop-db"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads((tmp_path / "onsale-smoke.json").read_text())
    checks = {name: row for name, row in data["invariants"].items() if not name.startswith("_")}
    assert {"no_seat_sold_twice", "held_sold_free_equal_capacity", "no_server_errors"} <= set(checks)
    assert [name for name, row in checks.items() if not row["ok"]] == []
    # Every scenario either ran or says why not: nothing silently vanished from the report.
    for label, row in data["capacity"].items():
        assert "rps" in row or row.get("skipped"), label
    assert isinstance(data["throughput"], list) or data["throughput"].get("skipped")
    assert "latency" in data["waitlist"] or data["waitlist"].get("skipped") or data["waitlist"].get("error")
    assert (tmp_path / "onsale-smoke.md").read_text().startswith("# On-sale benchmark (smoke)")
    assert (tmp_path / "onsale-smoke.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.timeout(300)
def test_waiting_room_smoke_runs_and_no_buyer_is_shed(tmp_path):
    """``onsale.py --waiting-room --smoke``: room off and on in one run, a sell-out; the
    invariants hold, admission order equals queue order, and no buyer in the room got a 503."""
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        from ticketing.server.embedded_pg import PGDATA

        env["TICKETING_PGDATA"] = str(PGDATA)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "onsale.py"),
            "--smoke",
            "--waiting-room",
            "--out",
            str(tmp_path),
            "--drop-db",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    data = json.loads((tmp_path / "waiting-room-smoke.json").read_text())
    assert [k for k, v in data["invariants"].items() if not k.startswith("_") and not v["ok"]] == []
    assert data["admission_order"]["ok"] and data["admission_order"]["admitted"] > 0
    assert data["room_on"]["busy_503"] == 0 and data["room_on"]["unanswered"] == 0
    assert data["room_on"]["bought"] > 0 and data["room_off"]["bought"] > 0
    assert data["sold_out"]["sold_out_notice"]["told"] > 0
    assert (tmp_path / "waiting-room-smoke.md").read_text().startswith("# Waiting-room benchmark (smoke)")
