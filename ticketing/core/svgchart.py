"""Bar charts drawn on the server as inline SVG: no script, no external asset, printable.

Staff pages (the organizer dashboard) show small time series; a bar per bucket with its
value in a ``<title>`` (a tooltip, and what a screen reader says) is all they need.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
HEIGHT = 240
PAD_LEFT = 44
PAD_BOTTOM = 36
PAD_TOP = 16


def _nice_max(value: float) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return int(value) + 1


def bar_chart(points: Sequence[tuple[str, int]], *, title: str, unit: str = "tickets") -> SafeString:
    """``points`` as ``(label, value)``, drawn as bars with a y axis and a few x labels."""
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = _nice_max(max((v for _, v in points), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}" '
        'stroke="#888"/>',
    ]
    for i in range(3):
        value = top * i / 2
        y = PAD_TOP + plot_h - plot_h * i / 2
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
            f"{value:g}</text>"
            f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="#eee"/>'
        )
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#777">'
            "No sales yet</text></svg>"
        )
        return mark_safe("".join(parts))  # every value above is escaped or a number
    slot = plot_w / len(points)
    every = max(1, len(points) // 8)
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = PAD_LEFT + i * slot
        parts.append(
            f'<rect class="bar" x="{x + slot * 0.1:.1f}" y="{PAD_TOP + plot_h - h:.1f}" '
            f'width="{max(1.0, slot * 0.8):.1f}" height="{h:.1f}" fill="#3454d1">'
            f"<title>{escape(label)}: {value} {escape(unit)}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" font-size="11" '
                f'text-anchor="middle" fill="#555">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is escaped or a number
