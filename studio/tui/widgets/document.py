"""A document with its spans in label colours: approved labels, pending proposals, the current one."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from studio.tui.colors import label_color

WINDOW = 500  # characters shown either side of the current span; long documents stay fast


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    label: str
    kind: str  # "approved" | "pending" | "current"


def _window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    lo, hi = max(0, start - width), min(len(text), end + width)
    # Start and stop on a space so the view does not open mid-word.
    if lo > 0:
        sp = text.find(" ", lo, start)
        lo = sp + 1 if sp != -1 else lo
    if hi < len(text):
        sp = text.rfind(" ", end, hi)
        hi = sp if sp != -1 else hi
    return lo, hi


def render_document(text: str, marks: list[Mark], focus: tuple[int, int] | None = None, width: int = WINDOW) -> Text:
    """Rich text of the part of `text` around `focus`, each mark styled by its label and kind."""
    lo, hi = _window(text, *focus, width) if focus else (0, min(len(text), 2 * width))
    out = Text("…" if lo > 0 else "")
    base = len(out)
    out.append(text[lo:hi])
    # Current last, so it is drawn over a pending or approved span at the same place.
    order = {"approved": 0, "pending": 1, "current": 2}
    for m in sorted(marks, key=lambda m: order[m.kind]):
        s, e = max(m.start, lo), min(m.end, hi)
        if e <= s:
            continue
        colour = label_color(m.label)
        style = {
            "approved": f"black on {colour}",
            "pending": f"underline {colour}",
            "current": f"bold reverse {colour}",
        }[m.kind]
        out.stylize(style, base + s - lo, base + e - lo)
    if hi < len(text):
        out.append("…")
    return out
