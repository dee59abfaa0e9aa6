"""QR codes of ticket codes: SVG for pages, PNG for the e-mail and the PDF (segno)."""

from __future__ import annotations

import io

import segno


def qr_svg(code: str) -> str:
    # Rendered on the server: the ticket page works without any script, and offline once loaded.
    qr = segno.make(code, error="m")
    return qr.svg_inline(scale=4, border=2, omitsize=True, title=f"Ticket code {code}")


def qr_png(code: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    # A quiet zone of 4 modules (the standard's) so phone scanners and gate readers find it.
    segno.make(code, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
