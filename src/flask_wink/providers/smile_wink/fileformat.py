"""The file formats Smile takes for uploads, told from a file's first bytes (client and sandbox)."""

from __future__ import annotations


def sniff_format(content: bytes) -> str | None:
    """``PDF``, ``PNG`` or ``JPEG`` from the file's first bytes; ``None`` for anything else."""
    if content.startswith(b"%PDF-"):
        return "PDF"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if content.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    return None
