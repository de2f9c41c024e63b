"""App-wide messages: what a worker posts when its one core call is done."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class GuidelineDrafted(Message):
    """The agent stored a new guideline version (a draft or a revision)."""

    version: int
    parent: int | None = None


@dataclass
class ActionProposed(Message):
    proposal_id: int


@dataclass
class ActionFinished(Message):
    proposal_id: int
    result: dict[str, Any]


@dataclass
class WorkProgress(Message):
    """A long run reports how far it is; `fraction` is None when unknown."""

    message: str
    fraction: float | None


@dataclass
class QueryFinished(Message):
    query_id: int


@dataclass
class ReleaseBuilt(Message):
    version: str
    path: str
    documents: int
    spans: int
