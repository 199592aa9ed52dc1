"""QR codes for authenticator enrolment, drawn by segno as a standalone SVG."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str) -> str:
    """An SVG document (black on white, with the quiet zone) that scanners read as ``text``."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=4, border=4, dark="#000", light="#fff", xmldecl=False, nl=False
    )
    return buffer.getvalue().decode("utf-8")
