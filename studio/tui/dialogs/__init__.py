"""Modal dialogs: each one dismisses with its answer."""

from studio.tui.dialogs.confirm import ConfirmDialog
from studio.tui.dialogs.help import HelpDialog
from studio.tui.dialogs.reason import ReasonDialog

__all__ = ["ConfirmDialog", "HelpDialog", "ReasonDialog"]
