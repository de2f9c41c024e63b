"""The line of screens at the top: which key opens which screen, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

# (mode name, key, title). The order is the flow: goal -> guideline -> ... -> release.
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("goal", "1", "Goal"),
    ("guideline", "2", "Guideline"),
    ("agent", "3", "Agent"),
    ("review", "4", "Labels"),
    ("boxes", "5", "Boxes"),
    ("query", "6", "Query"),
    ("log", "7", "Log"),
    ("release", "8", "Release"),
)


def nav_text(current: str) -> Text:
    text = Text(no_wrap=True, overflow="crop")
    for name, key, title in SCREENS:
        style = "bold reverse" if name == current else ""
        text.append(f" {key} ", style="bold " + ("reverse" if name == current else "dim"))
        text.append(f"{title} ", style=style)
    return text


class NavBar(Static):
    DEFAULT_CSS = "NavBar { height: 1; background: $panel; }"

    def __init__(self, current: str) -> None:
        super().__init__(nav_text(current))
