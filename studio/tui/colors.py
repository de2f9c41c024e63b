"""A stable colour per label, so ORG looks the same in every session and on every screen."""

from __future__ import annotations

import zlib

# Readable on dark and light terminals; picked by a hash of the label name, never by order,
# so adding a label does not repaint the others.
PALETTE = (
    "#e5c07b",
    "#61afef",
    "#98c379",
    "#e06c75",
    "#c678dd",
    "#56b6c2",
    "#d19a66",
    "#be5046",
    "#7ec699",
    "#f08d49",
)


def label_color(label: str) -> str:
    return PALETTE[zlib.crc32(label.encode("utf-8")) % len(PALETTE)]
