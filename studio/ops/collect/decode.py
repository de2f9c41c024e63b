"""Turning bytes into text with the right encoding.

Order for web pages: a byte-order mark, then the HTTP charset, then `<meta charset>` (or
http-equiv) near the top, then UTF-8 if the bytes are valid UTF-8, then charset-normalizer's
guess. Labels are mapped the way browsers map them (latin-1 and ascii mean windows-1252).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# What browsers do with these labels (WHATWG Encoding Standard): the 8859-1 label is cp1252.
_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "ks_c_5601-1987": "euc_kr",
    "gb2312": "gbk",
    "x-user-defined": "cp1252",
}
_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?([^\s;"']+)""", re.IGNORECASE)


def codec_for(label: str | None) -> str | None:
    """A Python codec name for an encoding label, or None if the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _CT_CHARSET.search(content_type)
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    """The charset an HTML page declares for itself in its first 4 KB."""
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def bom_codec(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def detect(body: bytes) -> str | None:
    """charset-normalizer's best guess, or None when the bytes look like no text encoding.

    Western single-byte encodings often tie (cp1250 and cp1252 read "café" the same); on a tie
    windows-1252 wins, as it does in browsers for undeclared pages.
    """
    matches = from_bytes(body[:200_000])
    best = matches.best()
    if best is None:
        return None
    for m in matches:
        if m.encoding == "cp1252" and m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.02:
            return "cp1252"
    return codec_for(best.encoding)


def decode_page(body: bytes, content_type: str | None = None, html: bool = True) -> tuple[str, str]:
    """(text, how) where `how` says which rule chose the encoding, e.g. 'http:shift_jis'."""
    # A byte-order mark outranks the header, as in browsers: it cannot be there by accident.
    candidates: list[tuple[str, str | None]] = [("bom", bom_codec(body))]
    candidates.append(("http", codec_for(charset_from_content_type(content_type))))
    if html:
        candidates.append(("meta", codec_for(meta_charset(body))))
    for how, codec in candidates:
        if codec:
            if how == "meta" and codec.startswith("utf_16"):
                codec = "utf-8"  # a page that could be read as ASCII to find this tag is not UTF-16
            return body.decode(codec, errors="replace"), f"{how}:{codec}"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = detect(body)
    if codec:
        return body.decode(codec, errors="replace"), f"detected:{codec}"
    return body.decode("utf-8", errors="replace"), "fallback:utf-8"
