"""Errors a person can act on. The CLI prints their message as one line, never a traceback."""

from __future__ import annotations


class StudioError(Exception):
    """A user-facing error: the message says what went wrong and what to do next."""

    exit_code = 1


class ProjectNotFound(StudioError):
    """There is no Studio project in the folder given."""


class NotFound(StudioError):
    """A document, proposal or version that does not exist."""


class InvalidState(StudioError):
    """The request does not fit the current state (e.g. approving a decided proposal)."""


class ReplayMiss(StudioError):
    """A replay asked for something its recording does not hold (an LLM request or an HTTP fetch)."""


class ReplayDivergence(StudioError):
    """A replay did not reproduce the recording (a decision, a tool result or a release differs)."""


class LogTampered(StudioError):
    """The decision log's hash chain is broken: a row was changed, removed or forged."""
