"""A document with its spans in label colours: approved labels, pending proposals, the current one.

Each span is followed by its label name in the label's colour, so a span reads right without
colour too. Approved spans have a coloured background; pending proposals are underlined in
their label's colour; the current span (or the person's selection) is reversed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from studio.tui.colors import label_color

WINDOW = 500  # characters shown either side of the focus when a document is longer than WHOLE
WHOLE = 1200  # documents up to this long are shown whole (about the text area of an 80x24 screen)


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    label: str
    kind: str  # "approved" | "pending" | "current" | "selection"


STYLE = {
    "approved": "black on {c}",
    "pending": "underline {c}",
    "current": "bold reverse underline {c}",
    "selection": "bold reverse",
}
ORDER = {"approved": 0, "pending": 1, "current": 2, "selection": 3}


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


def render_document(
    text: str, marks: list[Mark], focus: tuple[int, int] | None = None, width: int = WINDOW, tags: bool = True
) -> Text:
    """Rich text of `text` (whole, or the part around `focus` when long), each mark styled."""
    if len(text) <= WHOLE:
        lo, hi = 0, len(text)
    else:
        lo, hi = _window(text, *focus, width) if focus else (0, min(len(text), 2 * width))
    body = Text(text[lo:hi])
    shown = [m for m in marks if min(m.end, hi) > max(m.start, lo)]
    # Later kinds are drawn over earlier ones at the same place (the current span over a pending one).
    for m in sorted(shown, key=lambda m: ORDER[m.kind]):
        style = STYLE[m.kind].format(c=label_color(m.label))
        body.stylize(style, max(m.start, lo) - lo, min(m.end, hi) - lo)
    out = Text("…" if lo > 0 else "")
    if tags:
        # The label's name after each span (the selection has none yet).
        ends: dict[int, list[Mark]] = {}
        for m in shown:
            if m.kind in ("approved", "pending") and lo < m.end <= hi:
                ends.setdefault(m.end - lo, []).append(m)
        cuts = sorted(ends)
        pieces = body.divide(cuts)
        for piece, cut in zip(pieces, [*cuts, None], strict=True):
            out.append_text(piece)
            for m in ends.get(cut, []) if cut is not None else []:
                out.append(" ")
                out.append(m.label, style=("italic " if m.kind == "pending" else "bold ") + label_color(m.label))
    else:
        out.append_text(body)
    if hi < len(text):
        out.append("…")
    return out
