"""The cursor of a selection or an edit in progress on the Labels screen, by word or by character.

Nothing is saved by moving it: the core (`studio.ops.review`) validates and snaps the span when
the person saves it, and the screen shows the core's `check_span` of it before that.
"""

from __future__ import annotations

from studio.ops.review import DocumentView


def move_edge(view: DocumentView, start: int, end: int, edge: str, step: int, by_token: bool) -> tuple[int, int]:
    """Move one edge of [start, end) by a word (`view.words`) or a character; ValueError when it
    does not fit."""
    if by_token:
        edges = sorted({t.start if edge == "start" else t.end for t in view.words})
        at = start if edge == "start" else end
        moved = [e for e in edges if (e < at if step < 0 else e > at)]
        if not moved:
            raise ValueError(f"the {edge} cannot go past the edge of the document")
        new = moved[-1] if step < 0 else moved[0]
    else:
        new = (start if edge == "start" else end) + step
        if not 0 <= new <= len(view.text):
            raise ValueError(f"the {edge} cannot go past the edge of the document")
    s, e = (new, end) if edge == "start" else (start, new)
    if e <= s:
        other = "end" if edge == "start" else "start"
        raise ValueError(f"the span would be empty: move the {other} first")
    return s, e
