"""Image width and height from the file header, without decoding the image.

PNG, JPEG, GIF, BMP and WebP are parsed here, so the core does not need Pillow; other formats
fall back to Pillow when it is installed (it comes with ultralytics).
"""

from __future__ import annotations

import struct
from pathlib import Path

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) in pixels, or None when the file is missing or its header is unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            size = _from_head(head)
            if size is None and head[:2] == b"\xff\xd8":
                f.seek(2)
                size = _jpeg(f)
    except OSError:
        return None
    if size is None:
        size = _pillow(path)
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _from_head(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", head[6:10])
        return int(w), int(h)
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return int(w), abs(int(h))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        chunk = head[12:16]
        if chunk == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            h = int.from_bytes(head[27:30], "little") + 1
            return w, h
        # VP8 and VP8L need more bytes than we read; leave them to Pillow.
    return None


def _jpeg(f: object) -> tuple[int, int] | None:
    """Walk the JPEG markers to the first start-of-frame, which holds the size."""
    read = f.read  # type: ignore[attr-defined]
    while True:
        b = read(1)
        while b and b != b"\xff":
            b = read(1)
        while b == b"\xff":
            b = read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        raw = read(2)
        if len(raw) < 2:
            return None
        length = struct.unpack(">H", raw)[0]
        if marker in _JPEG_SOF:
            data = read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        if length < 2:
            return None
        f.seek(length - 2, 1)  # type: ignore[attr-defined]


def _pillow(path: str | Path) -> tuple[int, int] | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except Exception:  # Pillow raises many types for unreadable files; any means "unknown size"
        return None
