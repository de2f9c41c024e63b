"""NER queries with the student model (`studio train`, models/student/) when the project has one.

The student is a spaCy pipeline whose entity recognizer is transition-based: it gives no
per-token probabilities directly, but a beam search does. `beam_parse` keeps the `BEAM` best
analyses of each sentence with their probabilities; a token's distribution over O and the
labels is the probability mass of the analyses that put it inside an entity of each label (the
rest is O). A sentence's score is the strategy's score (margin, entropy, least confidence) of its
most uncertain token, and a document's is its most uncertain sentence: one confusing mention is
enough, and the score does not grow with length. Committee strategies use entropy here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio.ops.active import strategies

BEAM = 8
NAME = "student"


def find(root: Path, name: str = NAME) -> tuple[Path, dict[str, Any]] | None:
    """(model folder, card) of a trained student in the project, or None."""
    from studio.ops.ner.train import read_card

    folder = root / "models" / name
    card = read_card(folder)
    if card is None or not (folder / "pipeline").is_dir():
        return None
    return folder, card


def token_distributions(nlp: Any, lang: str, texts: Sequence[str], labels: Sequence[str]) -> list[list[np.ndarray]]:
    """Per document, per sentence: a (tokens, 1 + labels) table of P(O), P(label...) from the beam."""
    from studio.ops.ner.train import make_doc

    ner = nlp.get_pipe("ner")
    col = {lab: k + 1 for k, lab in enumerate(labels)}
    out: list[list[np.ndarray]] = []
    for text in texts:
        doc = make_doc(nlp, lang, text)
        for name, proc in nlp.pipeline:
            if name == "ner":
                break
            doc = proc(doc)
        table = np.zeros((len(doc), 1 + len(labels)))
        if len(doc):
            beam = ner.beam_parse([doc], beam_width=BEAM)[0]
            parses = ner.moves.get_beam_parses(beam)
            total = sum(p for p, _ in parses) or 1.0
            for prob, ents in parses:
                for start, end, label in ents:
                    if label in col:
                        table[start:end, col[label]] += prob / total
            table[:, 0] = np.clip(1.0 - table[:, 1:].sum(axis=1), 0.0, 1.0)
        out.append(_by_sentence(doc, table))
    return out


def _by_sentence(doc: Any, table: np.ndarray) -> list[np.ndarray]:
    try:
        sents = [(s.start, s.end) for s in doc.sents]
    except ValueError:  # no sentence boundaries set: the document is one sentence
        sents = [(0, len(doc))]
    return [table[a:b] for a, b in sents if b > a] or [table]


def doc_scores(
    nlp: Any, lang: str, texts: Sequence[str], labels: Sequence[str], strategy: str
) -> tuple[np.ndarray, list[list[float]]]:
    """(document scores, per-document sentence scores): max over sentences of max over tokens."""
    name = "entropy" if strategy in strategies.COMMITTEE_STRATEGIES or strategy == "random" else strategy
    doc_out = np.zeros(len(texts))
    sentence_scores: list[list[float]] = []
    for k, sents in enumerate(token_distributions(nlp, lang, texts, labels)):
        per = []
        for table in sents:
            if len(table) == 0:
                continue
            s, _ = strategies.score(name, probs=table)
            per.append(float(s.max()))
        sentence_scores.append(per)
        doc_out[k] = max(per) if per else 0.0
    return doc_out, sentence_scores
