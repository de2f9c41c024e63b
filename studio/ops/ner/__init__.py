"""NER weak labeling, everything except calling the model.

- `parse`: read the model's JSON answer into mentions (`parse_answer`, `answer_json_schema`).
- `align`: find mentions in the document text as token-aligned spans (`align_mentions`).
- `sources`: other weak sources (`Gazetteer`, `SpacyModelSource`).
- `combine`: one confidence per span from all sources, and calibration (`combine_spans`).
- `formats`, `evaluate`: gold files and entity-level scores (`read_gold`, `score`, `evaluate_store`).

See docs/ner.md for the rules and defaults.
"""

from __future__ import annotations

from studio.lazy import exports

_NAMES = {
    "AlignResult": "align",
    "AlignedSpan": "align",
    "Calibrator": "combine",
    "CombineResult": "combine",
    "EvalReport": "evaluate",
    "Gazetteer": "sources",
    "GoldDoc": "formats",
    "GoldFile": "formats",
    "Mention": "parse",
    "NerAnswer": "parse",
    "ParseFailure": "parse",
    "ParseResult": "parse",
    "ScoredSpan": "combine",
    "Scores": "evaluate",
    "SpacyModelSource": "sources",
    "WeakSource": "sources",
    "align_mentions": "align",
    "answer_json_schema": "parse",
    "combine_spans": "combine",
    "estimate_accuracies": "combine",
    "evaluate_store": "evaluate",
    "fit_calibrator": "combine",
    "parse_answer": "parse",
    "parse_label_map": "formats",
    "read_gold": "formats",
    "reliability": "combine",
    "score": "evaluate",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = exports(__name__, _NAMES)
