"""QR codes of ticket codes: SVG for pages, PNG for the e-mail and the PDF (segno)."""

from __future__ import annotations

import functools
import io

import segno


# One e-mail draws each ticket's code twice (the inline image and the PDF's): encoding is most
# of a QR's cost (choosing the mask), so the last few hundred codes are kept.
@functools.lru_cache(maxsize=256)
def _qr(code: str) -> segno.QRCode:
    return segno.make(code, error="m")


def qr_svg(code: str) -> str:
    # Rendered on the server: the ticket page works without any script, and offline once loaded.
    return _qr(code).svg_inline(scale=4, border=2, omitsize=True, title=f"Ticket code {code}")


def qr_png(code: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    # A quiet zone of 4 modules (the standard's) so phone scanners and gate readers find it.
    _qr(code).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
