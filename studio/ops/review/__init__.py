"""Review: the queue of pending proposals and document review (finish a whole document).

- `queue`: pending proposals in the order a person should see them (`review_queue`, `ReviewPager`).
- `document`: one document at a time: its text, tokens, approved spans and pending proposals
  (`document_view`), and every change a person makes to it (accept, reject, add, relabel, move a
  boundary, accept all, complete, reopen, withdraw, undo), each a decision in the log.
- `documents`: which documents to review next and how many are complete (`DocumentQueue`,
  `status_counts`).
- `protocol`: the line protocol `studio review` speaks (`parse_command`).

See docs/review.md.
"""

from __future__ import annotations

from studio.ops.review.document import (
    AmbiguousText,
    BadSpan,
    Change,
    DocumentLocked,
    DocumentView,
    LabelNotInGuideline,
    PendingProposals,
    ReviewError,
    SpanCheck,
    SpanOverlap,
    TextNotFound,
    Token,
    ViewSpan,
    accept,
    accept_all,
    add_span,
    add_text,
    check_label,
    check_span,
    complete,
    document_status,
    document_view,
    find_text,
    guideline_labels,
    locate_text,
    move_boundary,
    reject,
    relabel,
    reopen,
    set_span,
    undo,
    withdraw,
)
from studio.ops.review.documents import DocumentQueue, status_counts
from studio.ops.review.queue import Cursor, ReviewPager, query_order, ranked_documents, review_queue

__all__ = [
    "AmbiguousText",
    "BadSpan",
    "Change",
    "Cursor",
    "DocumentLocked",
    "DocumentQueue",
    "DocumentView",
    "LabelNotInGuideline",
    "PendingProposals",
    "ReviewError",
    "ReviewPager",
    "SpanCheck",
    "SpanOverlap",
    "TextNotFound",
    "Token",
    "ViewSpan",
    "accept",
    "accept_all",
    "add_span",
    "add_text",
    "check_label",
    "check_span",
    "complete",
    "document_status",
    "document_view",
    "find_text",
    "guideline_labels",
    "locate_text",
    "move_boundary",
    "query_order",
    "ranked_documents",
    "reject",
    "relabel",
    "reopen",
    "review_queue",
    "set_span",
    "status_counts",
    "undo",
    "withdraw",
]
