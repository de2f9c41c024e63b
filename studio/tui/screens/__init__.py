"""One screen per step of the flow; the app opens them as modes (keys 1-8; Adjudicate from the palette)."""

from studio.tui.screens.adjudicate import AdjudicateScreen
from studio.tui.screens.agent import AgentScreen
from studio.tui.screens.base import StudioScreen
from studio.tui.screens.boxes import BoxesScreen
from studio.tui.screens.goal import GoalScreen
from studio.tui.screens.guideline import GuidelineScreen
from studio.tui.screens.log import LogScreen
from studio.tui.screens.query import QueryScreen
from studio.tui.screens.release import ReleaseScreen
from studio.tui.screens.review import ReviewScreen

SCREEN_CLASSES: dict[str, type[StudioScreen]] = {
    cls.NAME: cls
    for cls in (
        GoalScreen,
        GuidelineScreen,
        AgentScreen,
        ReviewScreen,
        BoxesScreen,
        QueryScreen,
        LogScreen,
        ReleaseScreen,
        AdjudicateScreen,  # not in the numbered nav line: ctrl+p "Go to Adjudicate", or studio app --screen
    )
}

__all__ = ["SCREEN_CLASSES", "StudioScreen"]
