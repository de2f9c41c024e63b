"""The dataset card (README.md): a YAML header the Hugging Face loader reads, then the story.

Everything here is derived from the store and the release inputs; no clock is read, so the same
store gives the same card.
"""

from __future__ import annotations

from typing import Any

import yaml

from studio.ops.release import licenses
from studio.schema import Guideline

FEATURES = [
    {"name": "id", "dtype": "int64"},
    {"name": "split", "dtype": "string"},
    {"name": "text", "dtype": "string"},
    {
        "name": "spans",
        "list": [
            {"name": "end", "dtype": "int64"},
            {"name": "label", "dtype": "string"},
            {"name": "start", "dtype": "int64"},
            {"name": "text", "dtype": "string"},
        ],
    },
]


def _features(info: dict[str, Any]) -> list[dict[str, Any]]:
    if (info.get("review") or {}).get("include_partial"):
        return [*FEATURES, {"name": "complete", "dtype": "bool"}]
    return FEATURES


def header(info: dict[str, Any], task_type: str = "ner") -> str:
    detection = task_type == "detection"
    meta = {
        "license": licenses.hf_id(info["license"]),
        "language": [info["lang"]],
        "pretty_name": info["pretty_name"],
        "task_categories": ["object-detection"] if detection else ["token-classification"],
        "task_ids": [] if detection else ["named-entity-recognition"],
        "tags": ["studio"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": f"data/{s}.jsonl"} for s in info["split_counts"] if info["split_counts"][s]
                ],
            }
        ],
        "dataset_info": {"features": _features(info)},
    }
    if not any(info["split_counts"].values()):  # no text (e.g. a detection-only release): nothing to load
        del meta["configs"], meta["dataset_info"]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        text = "" if v is None else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def render(info: dict[str, Any], guideline: Guideline) -> str:
    """README.md text. `info` is the release summary assembled by build.py."""
    splits = [s for s in info["split_counts"] if info["split_counts"][s]]
    parts = [header(info, guideline.task_type)]
    parts.append(f"# {info['pretty_name']} v{info['version']}\n")
    parts.append(
        "A labeled dataset released by Studio from **human-approved labels only**. "
        f"State of the project as of decision #{info['as_of_decision']}.\n"
    )
    parts.append("## Goal\n\n" + guideline.goal.strip() + "\n")

    parts.append(f"## Guideline (version {info['guideline_version']}, task: {guideline.task_type})\n")
    for lab in guideline.labels:
        parts.append(f"### {lab.name}\n\n{lab.definition.strip() or '(no definition given)'}\n")
        for title, items in (
            ("Include", lab.include),
            ("Exclude", lab.exclude),
            ("Examples", lab.positive_examples),
            ("Not examples", lab.negative_examples),
        ):
            if items:
                parts.append(f"{title}: " + "; ".join(items) + "\n")
    if guideline.edge_cases:
        parts.append("### Edge cases\n\n" + "".join(f"- {e}\n" for e in guideline.edge_cases))
    if info["labels_outside_guideline"]:
        parts.append(
            "Labels present in approved spans but not in this guideline: "
            + ", ".join(info["labels_outside_guideline"])
            + "\n"
        )

    parts.append("## Contents\n")
    parts.append(
        f"{info['documents']} documents, {info['spans']} spans. Splits are seeded (seed {info['seed']}, "
        f"fractions {', '.join(str(f) for f in info['split_fractions'])}), stratified by each document's rarest "
        "label, and leakage-free: exact and near duplicates "
        f"(MinHash over word 3-shingles, Jaccard >= {info['near_dup_threshold']}) stay in one split "
        f"({info['split_plan']['groups']} groups; {info['split_plan']['exact_duplicate_docs']} documents with exact "
        f"duplicates, {info['split_plan']['near_duplicate_docs']} joined as near duplicates). "
        f"Synthetic documents sent to train only: {info['split_plan']['synthetic_docs']}.\n"
    )
    parts.append(_table(["split", "documents"], [[s, info["split_counts"][s]] for s in splits]))
    rows = [[lab, *(c[s] for s in splits), c["total"]] for lab, c in info["label_counts"].items()]
    parts.append("\nSpans per label and split:\n\n" + _table(["label", *splits, "total"], rows))

    if info.get("review"):
        parts.append(_review_section(info["review"], splits))
    if info.get("synthetic"):
        parts.append(_synthetic_section(info["synthetic"], splits))
    if info.get("team"):  # several annotators: adjudication and agreement (studio.ops.team)
        from studio.ops.team.release import card_section

        parts.append(card_section(info["team"]))
    parts.append("\n## Files\n\n")
    parts.append(
        "- `data/<split>.jsonl`: one document per line: `id`, `split`, `text`, `spans` (`start`, `end` character "
        'offsets, end exclusive; `label`; `text`). Load with `datasets.load_dataset("json", data_files=...)` or '
        '`datasets.load_dataset("<this folder>")`.\n'
        "- `spacy/<split>.spacy`: spaCy DocBin; spans in `doc.ents` (overlaps resolved longest-first); in documents "
        'with overlapping spans all of them are also in `doc.spans["sc"]`.\n'
        f"- `conll/<split>.conll`: CoNLL IOB2, `token<TAB>tag`, `# id = N` before each document, tokens from "
        f'`spacy.blank("{info["lang"]}")` (whitespace tokens omitted).\n'
        "- `release.json`: this summary as data, with every span adjusted to token edges or left out of the "
        "token formats.\n"
        "- `MANIFEST.json`: sha256 and size of every other file.\n"
    )
    for ext in info["exporters"]:
        if len(ext["files"]) > 12:  # e.g. one per image: MANIFEST.json lists them all
            parts.append(
                f"- {ext['name']}: {len(ext['files'])} files, e.g. `{ext['files'][0]}` (all in MANIFEST.json)\n"
            )
        else:
            parts.append(f"- {ext['name']}: " + ", ".join(f"`{f}`" for f in ext["files"]) + "\n")
    tok = info["token_formats"]
    parts.append(
        f"\nToken alignment (mode `{info['align']}`): {tok['adjusted']} spans adjusted to token edges, "
        f"{tok['dropped']} could not be aligned and are only in JSONL; {tok['overlaps']} overlapping spans are "
        "left out of `doc.ents` and CoNLL (kept in JSONL and `doc.spans`).\n"
    )

    for ext in info["exporters"]:
        if ext["name"] == "detection":
            from studio.ops.release.detection import card_section

            parts.append("\n" + card_section(ext["details"], info["seed"]))

    prov = info["provenance"]
    parts.append("\n## Sources and provenance\n\n")
    parts.append(_table(["source", "documents"], [[k, v] for k, v in prov["by_source"].items()]))
    if prov["by_host"]:
        parts.append(
            "\nCrawled documents by host:\n\n" + _table(["host", "documents"], list(map(list, prov["by_host"].items())))
        )
    if prov["license_hints"]:
        parts.append(
            "\nLicense hints found in the sources:\n\n"
            + _table(["hint", "documents"], list(map(list, prov["license_hints"].items())))
        )
    else:
        parts.append("\nNo license hints were found in the sources' provenance.\n")

    qual = info["quality"]
    parts.append("\n## Quality\n\n")
    rows = [
        [g, s["proposed"], s["accepted"], s["edited"], s["rejected"], s["pending"], _pct(s["accepted_share"]),
         _pct(s["edited_share"]), _pct(s["rejected_share"])]
        for g, s in qual["span_proposals"].items()
    ]  # fmt: skip
    parts.append(
        "Span proposals by origin (`llm` = proposed by a language model), shares of those a human decided:\n\n"
        + _table(
            ["origin", "proposed", "accepted", "edited", "rejected", "pending", "accepted %", "edited %", "rejected %"],
            rows,
        )
    )
    parts.append(
        f"\nPending proposals left out of this release: {qual['pending_total']} "
        f"({qual['pending_in_released_documents']} of them in released documents).\n"
    )
    if qual["label_origin"]:
        parts.append(
            "\nHow released labels were approved: "
            + ", ".join(f"{k} {v}" for k, v in qual["label_origin"].items())
            + ".\n"
        )
    if qual["weak_source_agreement"]:
        parts.append(
            "\nAgreement between weak sources (a source votes for a span at probability >= 0.5; pairs counted only "
            "where both scored the proposal):\n\n"
            + _table(
                ["source a", "source b", "both scored", "agree", "rate"],
                [
                    [r["a"], r["b"], r["both_scored"], r["agree"], _pct(r["rate"])]
                    for r in qual["weak_source_agreement"]
                ],
            )
        )
    if qual["box_fixes_proposed"] or qual["cleansing"]:
        parts.append(
            f"\nCleansing: {qual['box_fixes_proposed']} box fixes proposed; decisions: "
            + (", ".join(f"{k} {v}" for k, v in qual["cleansing"].items()) or "none yet")
            + ".\n"
        )

    pii = info["pii"]
    parts.append("\n## Personal data scan\n\n")
    found = ", ".join(f"{k} {v}" for k, v in pii["found"].items())
    parts.append(
        f"Scanned the released texts for emails, phone numbers, IPv4 addresses, card numbers (Luhn) and IBANs (mod 97). Found: {found}.\n"
    )
    if pii["mode"] == "redact":
        parts.append(
            f"Mode: **redact**. {pii['redacted']} matches were replaced by placeholders ([EMAIL], [PHONE], [IP], "
            f"[CREDIT_CARD], [IBAN]) and span offsets shifted to match; {pii['in_spans']} of them were inside labeled "
            "spans, which now cover the placeholder.\n"
        )
    else:
        parts.append("Mode: **keep**. The texts are released as approved; the matches above remain in them.\n")

    parts.append("\n## Decision log summary\n\n")
    parts.append(
        _table(["action", "actor", "count"], [[r["action"], r["actor"], r["count"]] for r in info["decisions"]])
    )

    name, url = licenses.KNOWN.get(info["license"], ("custom license", ""))
    parts.append(f"\n## License\n\n`{info['license']}` ({name}){f', {url}' if url else ''}. See `LICENSE`.\n")
    return "\n".join(p.strip("\n") + "\n" for p in parts)


def _synthetic_section(syn: dict[str, Any], splits: list[str]) -> str:
    """Synthetic share: how much of each label a reader would be training on that a model wrote."""
    text = "\nSynthetic share (documents written by `studio synth`, reviewed like the rest): " + ", ".join(
        f"{s} {syn['documents'].get(s, 0)}" for s in splits
    )
    text += f" documents; {syn['excluded']} synthetic documents left out of this release.\n\n"
    rows = [
        [
            lab,
            *(c.get(s, 0) for s in splits),
            f"{c['total']}/{c['of']} ({_pct(c['total'] / c['of'] if c['of'] else None)})",
        ]
        for lab, c in syn["spans"].items()
    ]
    return text + _table(["label", *splits, "synthetic/all"], rows)


def _review_section(review: dict[str, Any], splits: list[str]) -> str:
    """Complete / partial / untouched documents: whether every entity in a document was looked for."""
    proj = review["project"]
    rows = [[s, review["by_split"][s]["complete"], review["by_split"][s]["partial"]] for s in splits]
    if review["include_partial"]:
        text = (
            "\nReview status: released with `--include-partial`, so some documents were not marked complete by a "
            'person and may miss entities; they carry `"complete": false` in JSONL. Filter on it to train on '
            "finished documents only.\n\n"
        )
    else:
        text = (
            "\nReview status: only documents a person marked complete (every entity looked for) are released; "
            f"{proj['partial']} partly reviewed document(s) are left out.\n\n"
        )
    text += _table(["split", "complete", "partial"], rows)
    text += (
        f"\nIn the project: {proj['complete']} complete, {proj['partial']} partial, {proj['untouched']} untouched, "
        f"{proj['withdrawn']} withdrawn (never released) documents.\n"
    )
    return text
