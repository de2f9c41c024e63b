"""A picture in the terminal (textual-image): Kitty or Sixel graphics where the terminal speaks them,
unicode half-blocks elsewhere (any colour terminal, over SSH too).

textual-image asks the terminal what it supports when it is imported, which only works before
Textual takes over the terminal: this module imports it at import time (the app imports the screens
before it runs). The renderer is the app's `images` setting: `auto` (ask the terminal), `sixel`,
`tgp` (Kitty), `halfcell`, `unicode`, or `off` (text only). Tests force `halfcell`: it is
deterministic and needs no terminal.
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import Static

RENDERERS = ("auto", "sixel", "tgp", "halfcell", "unicode", "off")

try:
    from textual_image.widget import HalfcellImage, SixelImage, TGPImage, UnicodeImage
    from textual_image.widget import Image as AutoImage

    _CLASSES: dict[str, Any] = {
        "auto": AutoImage,
        "sixel": SixelImage,
        "tgp": TGPImage,
        "halfcell": HalfcellImage,
        "unicode": UnicodeImage,
    }
except Exception:  # not installed, or no usable stdout to ask: the screens show text only
    _CLASSES = {}


def picture_widget(renderer: str, id: str) -> Widget:
    """An image widget (set `.image` to a PIL image or None), or a placeholder when pictures are off."""
    cls = _CLASSES.get(renderer)
    if cls is None:
        reason = "pictures are off" if renderer == "off" else "no terminal image support (pip install textual-image)"
        return Static(f"({reason}: `studio cleanse --show ID -o F.png` writes the picture)", id=id)
    return cls(id=id)  # type: ignore[no-any-return]


def coarse(renderer: str) -> bool:
    """True when the picture is drawn with characters (a few dozen cells wide): draw its lines bolder."""
    cls = _CLASSES.get(renderer)
    if cls is None:
        return False
    text_renderers = (_CLASSES["halfcell"]._Renderable, _CLASSES["unicode"]._Renderable)
    return cls._Renderable in text_renderers  # "auto" resolves to one of the four when imported
