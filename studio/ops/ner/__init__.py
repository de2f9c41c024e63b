"""NER weak labeling, everything except calling the model.

- `parse`: read the model's JSON answer into mentions (`parse_answer`, `answer_json_schema`).
- `align`: find mentions in the document text as token-aligned spans (`align_mentions`).
- `sources`: other weak sources (`Gazetteer`, `SpacyModelSource`).
- `combine`: one confidence per span from all sources, and calibration (`combine_spans`).
- `formats`, `evaluate`: gold files and entity-level scores (`read_gold`, `score`, `evaluate_store`).

See docs/ner.md for the rules and defaults.
"""

from __future__ import annotations

from studio.ops.ner.align import AlignedSpan, AlignResult, align_mentions
from studio.ops.ner.combine import (
    Calibrator,
    CombineResult,
    ScoredSpan,
    combine_spans,
    estimate_accuracies,
    fit_calibrator,
    reliability,
)
from studio.ops.ner.evaluate import EvalReport, Scores, evaluate_store, score
from studio.ops.ner.formats import GoldDoc, GoldFile, parse_label_map, read_gold
from studio.ops.ner.parse import Mention, NerAnswer, ParseFailure, ParseResult, answer_json_schema, parse_answer
from studio.ops.ner.sources import Gazetteer, SpacyModelSource, WeakSource

__all__ = [
    "AlignResult",
    "AlignedSpan",
    "Calibrator",
    "CombineResult",
    "EvalReport",
    "Gazetteer",
    "GoldDoc",
    "GoldFile",
    "Mention",
    "NerAnswer",
    "ParseFailure",
    "ParseResult",
    "ScoredSpan",
    "Scores",
    "SpacyModelSource",
    "WeakSource",
    "align_mentions",
    "answer_json_schema",
    "combine_spans",
    "estimate_accuracies",
    "evaluate_store",
    "fit_calibrator",
    "parse_answer",
    "parse_label_map",
    "read_gold",
    "reliability",
    "score",
]
