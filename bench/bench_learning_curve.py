"""Proposal quality as a person reviews: each weak source alone and combined, after 0/20/100/300 reviewed
sentences, on the shipped news corpora (prints numbers; not a test).

Corpora: fixtures/ner/news_en_{train,test}.jsonl (600/200 documents, PER ORG LOC MISC) and
news_ko_{train,test}.jsonl (180/80, PER LOC ORG DAT TIM QTY). "Reviewed" = the first B training
documents with their gold spans, as a person who completed them would have approved.

At each budget B:
- student: `studio train`'s fit on the B documents (80/20 split, early stopping; the pretrained English
  pipeline fine-tuned for English, blank with CJK character tokens for Korean), then predicting the test split;
- pretrained (English only): en_core_web_sm with PERSON->PER, ORG->ORG, GPE/LOC->LOC, NORP/EVENT->MISC;
- gazetteer: the guideline's examples plus the approved spans of the B documents;
- llm: the embedded model through `label_documents` (the real prompt; few-shot examples chosen from the
  reviewed documents), on a SMALL SAMPLE of the test split (`--llm-sample`, default 40 English / 24 Korean)
  and only at budgets 0 and 100 (`--llm-budgets`): it is slow (~8 sentences/min) and the machine is shared;
- combined: `combine_spans` with the weights learned (weights.py) on the student's held-out 20% of the
  reviewed documents, where every source's votes are honest (none of them learned from those documents);
  proposals with confidence >= 0.5 are scored. "combined (no llm)" on the whole test split; "combined" with
  the LLM on the sample.
- cascade (on the sample, where a student exists): sentences the student is sure of (label_documents's
  `student_confident`, threshold 0.9) keep the student's and other sources' votes and skip the LLM; the
  others use the LLM's answers from the same run. Time = the student's time + the LLM's measured time per
  sentence for the sentences it was asked about.

Strict micro F1 (studio.ops.ner.evaluate.score); ECE of the combined confidences on the test candidates.

    nice -n 10 python bench/bench_learning_curve.py [--lang en ko] [--budgets 0 20 100 300] [--no-llm]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from studio.ops.ner.combine import combine_spans, reliability  # noqa: E402
from studio.ops.ner.evaluate import score  # noqa: E402
from studio.ops.ner.sources import Gazetteer, SpacyModelSource, StudentSource, pretrained_available  # noqa: E402
from studio.ops.ner.train import LabeledDoc, fit, predict, save_model, split_docs  # noqa: E402
from studio.ops.ner.weights import DocTrials, weights_from  # noqa: E402
from studio.schema import Document, Guideline, Proposal, Span  # noqa: E402
from studio.store import Store  # noqa: E402

NER = ROOT / "fixtures" / "ner"
PRETRAINED_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "NORP": "MISC", "EVENT": "MISC"}
HUMAN = "human:bench"
Preds = list[list[tuple[Span, float]]]


def read(name: str) -> list[LabeledDoc]:
    rows = [json.loads(x) for x in (NER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    return [LabeledDoc(text=r["text"], spans=[Span(**s) for s in r["spans"]]) for r in rows]


def guideline(lang: str) -> Guideline:
    path = NER / ("news_guideline.yaml" if lang == "en" else "news_ko_guideline.yaml")
    return Guideline.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def f1(gold: list[LabeledDoc], pred: list[list[Span]]) -> float:
    return round(score([d.spans for d in gold], pred).overall("strict").f1, 4)


def yes(preds: Preds, t: float = 0.5) -> list[list[Span]]:
    return [[s for s, p in doc if p >= t] for doc in preds]


def timed(fn: Any, *a: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*a)
    return out, time.perf_counter() - t


def per_min(n: int, seconds: float) -> float:
    return round(n / seconds * 60, 1) if seconds > 0 else float("inf")


# -- the LLM through the real pipeline -----------------------------------------------------------
def llm_votes(
    g: Guideline, reviewed: list[LabeledDoc], sample: list[LabeledDoc], llm_spec: str | None
) -> tuple[Preds, float]:
    """The embedded model's spans (its own vote) on `sample`, few-shot from `reviewed`; seconds taken."""
    from studio.llm import open_llm
    from studio.ops.ner.label import LabelSettings, label_documents

    with tempfile.TemporaryDirectory() as tmp, Store.init(Path(tmp) / "p") as store:
        store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
        for d in reviewed:
            doc_id, _ = store.add_document(Document(text=d.text, lang=g.language, source="import"))
            props = [Proposal(kind="span", document_id=doc_id, payload={"span": s.model_dump()}, source="human")
                     for s in d.spans]  # fmt: skip
            for pid in store.add_proposals(props, actor=HUMAN):
                store.accept_span(pid, HUMAN)
        ids = [store.add_document(Document(text=d.text, lang=g.language, source="import"))[0] for d in sample]
        settings = LabelSettings(student=False, learned_weights=False)
        llm = open_llm(store, llm_spec)
        from studio.errors import StudioError

        for attempt in range(3):  # on a crowded machine the embedded server can miss its start deadline
            try:
                t = time.perf_counter()
                label_documents(store, llm, ids, settings=settings)
                break
            except StudioError as exc:
                if "did not start" not in str(exc) or attempt == 2:
                    raise
                print(f"  (the model server did not start in time; trying again: {exc})", flush=True)
        seconds = time.perf_counter() - t
        out: Preds = []
        for doc_id in ids:
            spans = []
            for p in store.proposals(kind="span", document_id=doc_id):
                if p.payload["sources"].get("llm", 0) >= 0.5:
                    spans.append((Span(**p.payload["span"]), float(p.payload["sources"]["llm"])))
            out.append(spans)
    return out, seconds


def cached_llm_votes(
    votes_file: Path | None,
    key: str,
    g: Guideline,
    reviewed: list[LabeledDoc],
    sample: list[LabeledDoc],
    llm_spec: str | None,
) -> tuple[Preds, float]:
    """`llm_votes`, kept in `votes_file` (when given) so that a later run re-combines the same measured answers
    without asking the model again; the seconds are the ones measured when the answers were made."""
    saved: dict[str, Any] = (
        json.loads(votes_file.read_text(encoding="utf-8")) if votes_file and votes_file.exists() else {}
    )
    if key in saved:
        print(f"  (LLM answers for {key} from {votes_file}, measured {saved[key]['measured']})", flush=True)
        preds = [[(Span(**s), c) for s, c in doc] for doc in saved[key]["preds"]]
        return preds, float(saved[key]["seconds"])
    import subprocess

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    preds, seconds = llm_votes(g, reviewed, sample, llm_spec)
    if votes_file is not None:
        saved[key] = {"measured": load, "seconds": seconds,
                      "preds": [[(s.model_dump(), c) for s, c in doc] for doc in preds]}  # fmt: skip
        votes_file.write_text(json.dumps(saved), encoding="utf-8")
    return preds, seconds


# -- combination ----------------------------------------------------------------------------------
def combine_all(texts: list[str], weak: dict[str, Preds], llm: Preds | None, weights: Any) -> Preds:
    out: Preds = []
    for i, text in enumerate(texts):
        samples = [[s for s, _ in llm[i]]] if llm is not None and llm[i] is not None else []
        res = combine_spans(text, samples, {k: v[i] for k, v in weak.items()}, weights=weights)
        out.append([(z.span, z.confidence) for z in res.spans])
    return out


def ece(gold: list[LabeledDoc], preds: Preds) -> float:
    conf, ok = [], []
    for d, doc in zip(gold, preds, strict=True):
        truth = {(s.start, s.end, s.label) for s in d.spans}
        for s, p in doc:
            conf.append(p)
            ok.append((s.start, s.end, s.label) in truth)
    return round(reliability(conf, ok).ece, 4) if conf else float("nan")


def trials(docs: list[LabeledDoc], weak: dict[str, Preds]) -> list[DocTrials]:
    out = []
    for i, d in enumerate(docs):
        votes: dict[tuple[int, int, str], dict[str, float]] = {}
        for name, preds in weak.items():
            for s, p in preds[i]:
                votes.setdefault((s.start, s.end, s.label), {})[name] = p
        out.append(DocTrials(votes=votes, ran=set(weak), gold={(s.start, s.end, s.label) for s in d.spans}))
    return out


# -- one language -----------------------------------------------------------------------------------
def run_lang(lang: str, budgets: list[int], llm_budgets: list[int], sample_n: int, llm_spec: str | None,
             use_llm: bool, votes_file: Path | None = None) -> list[dict]:  # fmt: skip
    g = guideline(lang)
    labels = g.label_names()
    pool, test = read(f"news_{lang}_train"), read(f"news_{lang}_test")
    texts = [d.text for d in test]
    sample = test[:sample_n]
    rows: list[dict] = []
    pretrained: Preds | None = None
    if lang == "en" and pretrained_available():
        src = SpacyModelSource(PRETRAINED_MAP)
        src.predict_many(texts[:2])  # load once, outside the timing
        pretrained, t_pre = timed(src.predict_many, texts)
        print(
            f"[{lang}] pretrained: F1 {f1(test, yes(pretrained))}, {per_min(len(texts), t_pre)} sentences/min",
            flush=True,
        )
    for b in budgets:
        reviewed = pool[:b]
        row: dict[str, Any] = {"lang": lang, "reviewed": b}
        gaz = Gazetteer.build(g, lang=lang)
        for d in reviewed:
            for s in d.spans:
                gaz.add(s.text, s.label)
        weak: dict[str, Preds] = {"gazetteer": [gaz.predict(t) for t in texts]}
        if pretrained is not None:
            weak["pretrained"] = pretrained
        row["gazetteer"] = f1(test, yes(weak["gazetteer"]))
        if pretrained is not None:
            row["pretrained"] = f1(test, yes(pretrained))
        weights = weights_from([])
        student_src = None
        if b >= 20:
            train, dev = split_docs(reviewed, 0.2, 0)
            t0 = time.perf_counter()
            nlp, base, fr = fit(train, dev, labels, lang)  # studio train's defaults
            t_train = time.perf_counter() - t0
            with tempfile.TemporaryDirectory() as tmp:
                save_model(nlp, Path(tmp) / "student", {"name": "student", "language": lang, "labels": labels,
                                                         "scores": fr.scores})  # fmt: skip
                student_src = StudentSource(Path(tmp) / "student")
                student_src._nlp = nlp
            student_preds, t_student = timed(student_src.predict_many, texts)
            weak["student"] = student_preds
            row.update(student=f1(test, yes(student_preds)), student_base=base, train_seconds=round(t_train, 1),
                       student_per_min=per_min(len(texts), t_student), student_heldout_f1=fr.scores.get("f1"))  # fmt: skip
            # learned weights from the held-out 20% of the reviewed documents (honest votes: nothing learned them)
            gaz_train = Gazetteer.build(g, lang=lang)
            for d in train:
                for s in d.spans:
                    gaz_train.add(s.text, s.label)
            dev_texts = [d.text for d in dev]
            dev_weak: dict[str, Preds] = {"gazetteer": [gaz_train.predict(t) for t in dev_texts]}
            if pretrained is not None:
                dev_weak["pretrained"] = SpacyModelSource(PRETRAINED_MAP).predict_many(dev_texts)
            dev_weak["student"] = [[(s, student_src.precision.get(s.label, 0.5)) for s in doc]
                                   for doc in predict(nlp, lang, dev_texts, labels)]  # fmt: skip
            weights = weights_from(trials(dev, dev_weak))
        comb = combine_all(texts, weak, None, weights)
        row["combined_no_llm"] = f1(test, yes(comb))
        row["ece_no_llm"] = ece(test, comb)
        if use_llm and b in llm_budgets:
            llm_preds, t_llm = cached_llm_votes(votes_file, f"{lang}:{b}:{len(sample)}", g, reviewed, sample, llm_spec)
            n = len(sample)
            sweak = {k: v[:n] for k, v in weak.items()}
            both = combine_all(texts[:n], sweak, llm_preds, weights)
            row.update(sample=n, llm_sample=f1(sample, yes(llm_preds)), llm_per_min=per_min(n, t_llm),
                       combined_sample=f1(sample, yes(both)), ece_sample=ece(sample, both),
                       combined_no_llm_sample=f1(sample, yes(comb[:n])))  # fmt: skip
            for k, v in sweak.items():
                row[f"{k}_sample"] = f1(sample, yes(v))
            if student_src is not None:
                from studio.ops.ner.label import student_confident

                sure = [student_confident(student_src, {k: v[i] for k, v in sweak.items()}, 0.9) for i in range(n)]
                casc_llm = [None if s else llm_preds[i] for i, s in enumerate(sure)]
                casc = combine_all(texts[:n], sweak, casc_llm, weights)  # type: ignore[arg-type]
                t_casc = t_student * n / len(texts) + t_llm * (n - sum(sure)) / n
                row.update(cascade_skipped=sum(sure), cascade_f1=f1(sample, yes(casc)),
                           cascade_per_min=per_min(n, t_casc), no_cascade_per_min=per_min(n, t_llm + t_student * n / len(texts)))  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", nargs="+", default=["en", "ko"])
    ap.add_argument("--budgets", nargs="+", type=int, default=[0, 20, 100, 300])
    ap.add_argument("--llm-budgets", nargs="+", type=int, default=[0, 100])
    ap.add_argument("--llm-sample", type=int, nargs=2, default=[40, 24], metavar=("EN", "KO"))
    ap.add_argument(
        "--llm", default=None, help="model spec for the LLM source (default: the project default, embedded)"
    )
    ap.add_argument("--no-llm", action="store_true")
    ap.add_argument(
        "--llm-votes",
        type=Path,
        default=None,
        help="keep the LLM's answers in this JSON file and reuse them on later runs (re-combine without the model)",
    )
    args = ap.parse_args()
    import subprocess

    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    out = []
    for lang in args.lang:
        budgets = [b for b in args.budgets if b <= len(read(f"news_{lang}_train"))] or [0]
        if lang == "ko" and max(args.budgets) > 180:
            budgets = sorted({*budgets, 180})
        n = args.llm_sample[0] if lang == "en" else args.llm_sample[1]
        out += run_lang(lang, budgets, args.llm_budgets, n, args.llm, not args.no_llm, args.llm_votes)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
