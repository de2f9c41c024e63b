"""The command palette (ctrl+p): every screen and every operation, by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from studio.tui.app import StudioApp


def palette_entries() -> list[tuple[str, str, str | None, str]]:
    """(label, screen, action or None, help) for every screen and each operation it offers."""
    from studio.tui.screens import SCREEN_CLASSES
    from studio.tui.widgets.nav import SCREENS

    out: list[tuple[str, str, str | None, str]] = []
    for name, key, title in SCREENS:
        out.append((f"Go to {title}", name, None, f"open the {title} screen (key {key})"))
    numbered = {name for name, _, _ in SCREENS}
    extra = [(name, "", name.title()) for name in SCREEN_CLASSES if name not in numbered]  # e.g. adjudicate
    for name, _key, title in extra:
        out.append((f"Go to {title}", name, None, f"open the {title} screen"))
    for name, _key, title in [*SCREENS, *extra]:
        for action, words in SCREEN_CLASSES[name].PALETTE:
            out.append((f"{title}: {words}", name, action, f"on the {title} screen"))
    return out


class StudioCommands(Provider):
    def _callback(self, screen: str, action: str | None) -> object:
        app = cast("StudioApp", self.app)
        if action is None:
            return partial(app.action_goto, screen)
        return partial(app.run_on_screen, screen, action)

    async def discover(self) -> Hits:
        for label, screen, action, help_text in palette_entries():
            yield DiscoveryHit(label, self._callback(screen, action), help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, screen, action, help_text in palette_entries():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._callback(screen, action), help=help_text)  # type: ignore[arg-type]
