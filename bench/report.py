"""Figures from the recorded samples: JSON, a short Markdown summary and a latency-over-time PNG."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def latency_stats(values: list[float]) -> dict[str, float | None]:
    return {
        "p50_ms": ms(pct(values, 50)),
        "p95_ms": ms(pct(values, 95)),
        "p99_ms": ms(pct(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


def endpoint_table(samples: list[tuple], phase: str, seconds: float) -> dict[str, dict]:
    """Per label of one phase: count, requests/s, latency percentiles, answers by status."""
    by_label: dict[str, list[tuple]] = defaultdict(list)
    for s in samples:
        if s[0] == phase:
            by_label[s[1]].append(s)
    out = {}
    for label, rows in sorted(by_label.items()):
        lat = [r[3] for r in rows if r[4] != 0]
        statuses = Counter(r[4] for r in rows)
        out[label] = {
            "requests": len(rows),
            "rps": round(len(rows) / seconds, 1) if seconds else None,
            **latency_stats(lat),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_errors": sum(v for k, v in statuses.items() if k >= 500 or k == 0),
        }
    return out


def errors_by_status(samples: list[tuple]) -> dict[str, int]:
    counts = Counter(s[4] for s in samples if s[0] != "probe" and (s[4] >= 400 or s[4] == 0))
    return {("no answer" if k == 0 else str(k)): v for k, v in sorted(counts.items())}


def server_error_count(samples: list[tuple]) -> int:
    return sum(1 for s in samples if s[0] != "probe" and (s[4] >= 500 or s[4] == 0))


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def _ratio(value: float | None) -> str:
    # Two decimals: the 0.8 target must not be decided by rounding.
    return "-" if value is None else f"{value:.2f}"


def markdown(data: dict) -> str:
    """A short human summary: tables of the figures, the targets and the invariants."""
    run = data["run"]
    lines = [
        f"# On-sale benchmark ({run['mode']}) - {run['finished_at']}",
        "",
        f"Machine: {run['machine']}. Topology: {run['topology']}. Code: {run.get('code')}.",
        f"The load generator runs on the same machine. Load average at the end: "
        f"{run.get('load_average_at_end')} (1, 5, 15 min).",
        "",
    ]
    if data.get("skipped"):
        lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in sorted(data["skipped"].items())] + [""]
    cap = data.get("capacity") or {}
    if cap:
        lines += [
            f"## Capacity: each endpoint alone, closed loop, {run['capacity_concurrency']} connections",
            "",
            "| endpoint | req/s | p50 ms | p99 ms | req/s vs trivial |",
            "|---|---:|---:|---:|---:|",
        ]
        for label, row in cap.items():
            if "skipped" in row:
                lines.append(f"| {label} | {row['skipped']} | | | |")
                continue
            lines.append(
                f"| {label} | {_fmt(row.get('rps'))} | {_fmt(row.get('p50_ms'))} | {_fmt(row.get('p99_ms'))} "
                f"| {_ratio(row.get('ratio_to_trivial'))} |"
            )
        lines.append("")
    onsale = data.get("onsale") or {}
    if onsale.get("endpoints"):
        lines += [
            f"## On-sale mix: {run['browsers']} visitors, {run['buyers']} buyers, {onsale['seconds']:.0f} s",
            "",
            "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | p50 vs trivial | statuses |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for label, row in onsale["endpoints"].items():
            statuses = ", ".join(f"{k}: {v}" for k, v in row["statuses"].items())
            lines.append(
                f"| {label} | {row['requests']} | {_fmt(row['rps'])} | {_fmt(row['p50_ms'])} | "
                f"{_fmt(row['p95_ms'])} | {_fmt(row['p99_ms'])} | {_fmt(row.get('p50_ratio_to_trivial'))} | "
                f"{statuses} |"
            )
        lines.append("")
    ws = onsale.get("websocket")
    if ws:
        lines += ["## Websockets", ""] + [f"- {k}: {_fmt(v)}" for k, v in ws.items()] + [""]
    wl = data.get("waitlist")
    if wl:
        lines += ["## Waitlist offers", ""]
        if "skipped" in wl or "error" in wl:
            lines += [f"- {wl.get('skipped') or wl.get('error')}", ""]
        else:
            for kind, row in wl["latency"].items():
                lines.append(
                    f"- {kind} -> offer: {row['count']} offers, p50 {_fmt(row['p50_ms'])} ms, "
                    f"max {_fmt(row['max_ms'])} ms"
                )
            lines += [f"- offers received: {wl['offers_received']} of {wl['waiters']} waiting", ""]
    tp = data.get("throughput") or []
    if tp and not isinstance(tp, dict):
        lines += [
            "## Throughput: closed-loop buyers on one event, 1 seat per order (hold, then purchase)",
            "",
            "| buyers | tickets/min | hold p50 ms | purchase p50 ms | checkout p50 ms | errors |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for row in tp:
            lines.append(
                f"| {row['buyers']} | {_fmt(row['tickets_per_minute'])} | {_fmt(row['hold']['p50_ms'])} | "
                f"{_fmt(row['purchase']['p50_ms'])} | {_fmt(row['checkout']['p50_ms'])} | "
                f"{', '.join(f'{k}: {v}' for k, v in row['errors'].items()) or '-'} |"
            )
        lines.append("")
    elif isinstance(tp, dict):
        lines += ["## Throughput", "", f"- {tp.get('skipped')}", ""]
    if data.get("errors_by_status"):
        lines += ["## Answers >= 400 by status (all phases)", ""]
        lines += [f"- {k}: {v}" for k, v in data["errors_by_status"].items()] + [""]
    if data.get("targets"):
        lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
        for t in data["targets"]:
            lines.append(f"| {t['target']} | {t['measured']} | {t['met']} |")
        lines.append("")
    inv = data.get("invariants") or {}
    lines += ["## Invariants (from the database)", ""]
    for name, row in inv.items():
        if name.startswith("_"):
            continue
        lines.append(
            f"- {'PASS' if row['ok'] else 'FAIL'} {name}: {row['rule']}"
            + ("" if row["ok"] else f" -> {row['offending']}")
        )
    if "_totals" in inv:
        lines.append(f"- inventory now: {inv['_totals']}")
    if data.get("cpu"):
        lines += ["", "## CPU seconds used during the run", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in data["cpu"].items()]
    lag = data.get("load_generator_loop_lag")
    if lag:
        lines += [
            "",
            f"Load generator event-loop lag: p50 {_fmt(lag['p50_ms'])} ms, p99 {_fmt(lag['p99_ms'])} ms, "
            f"max {_fmt(lag['max_ms'])} ms (when this is large, latencies include the client's own delay).",
        ]
    return "\n".join(lines) + "\n"


GROUPS = {
    "trivial": lambda label: label.startswith("GET /api/ping") or label.startswith("GET /healthz"),
    "browse (GET)": lambda label: label.startswith("GET /api/events"),
    "hold": lambda label: "holds" in label or label == "hold",
    "purchase": lambda label: "purchase" in label,
    "websocket connect": lambda label: label.startswith("WS"),
}


def plot(path: Path, samples: list[tuple], phases: list[tuple[str, float, float]], title: str) -> None:
    """Latency p50/p95 per second per request group, and requests/s, over the whole run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_rps) = plt.subplots(
        2, 1, figsize=(12, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    colors = dict(zip(GROUPS, ["black", "tab:blue", "tab:orange", "tab:green", "tab:purple"], strict=False))
    for group, match in GROUPS.items():
        buckets: dict[int, list[float]] = defaultdict(list)
        for s in samples:
            if s[0] != "probe" and match(s[1]) and s[4] != 0:
                buckets[int(s[2] + s[3])].append(s[3] * 1000)
        if not buckets:
            continue
        xs = sorted(buckets)
        ax_lat.plot(
            xs, [np.percentile(buckets[x], 50) for x in xs], color=colors[group], label=f"{group} p50"
        )
        ax_lat.plot(
            xs,
            [np.percentile(buckets[x], 95) for x in xs],
            color=colors[group],
            linestyle=":",
            label=f"{group} p95",
        )
        ax_rps.plot(xs, [len(buckets[x]) for x in xs], color=colors[group], label=group)
    for name, start, end in phases:
        for ax in (ax_lat, ax_rps):
            ax.axvspan(start, end, alpha=0.06, color="grey")
        ax_lat.text(start + 0.5, 1.02, name, transform=ax_lat.get_xaxis_transform(), fontsize=8)
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency ms (log; solid p50, dotted p95)")
    ax_lat.legend(fontsize=7, ncol=5, loc="upper left")
    ax_lat.grid(True, which="both", alpha=0.3)
    ax_rps.set_ylabel("answers per second")
    ax_rps.set_xlabel("seconds since the load generator started")
    ax_rps.legend(fontsize=7, ncol=5, loc="upper left")
    ax_rps.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
