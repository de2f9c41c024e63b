"""Build a release: approved labels only -> `<project>/releases/vX.Y.Z/`, recorded as a decision.

The folder is written under a temporary name inside `releases/` and renamed into place in the
same transaction that records `release.create`, so a release either exists with its decision
or not at all. Nothing in the files reads the clock: the same store gives the same bytes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from studio.errors import InvalidState, StudioError
from studio.ops.release import card, formats, licenses, pii, stats, tokenproc, versions
from studio.ops.release.manifest import write_manifest
from studio.ops.release.models import SPLITS, ExportContext, Progress, ReleaseDoc, ReleaseOptions, ReleaseResult
from studio.ops.release.plugins import Exporter, exporters_for
from studio.ops.release.splits import plan_splits
from studio.ops.release.tokenproc import TokenProcess
from studio.schema import Guideline, Span
from studio.store import Store

LICENSE_SETTING = "release.license"


def resolve_license(store: Store, given: str | None) -> str:
    value = given or store.get_setting(LICENSE_SETTING)
    if not value:
        raise StudioError(
            "the release has no license: pass --license SPDX (e.g. CC-BY-4.0) "
            f"or set the project default with the setting {LICENSE_SETTING}"
        )
    return licenses.normalize(str(value))


def release_document_ids(store: Store, include_partial: bool = False) -> tuple[list[int], set[int]]:
    """(ids to release, the complete ones among them). Complete documents only, unless
    `include_partial`: then also documents with approved labels or decided proposals that are not
    complete. Withdrawn documents never."""
    complete = {
        int(r[0]) for r in store.conn.execute("SELECT document_id FROM document_status WHERE status = 'complete'")
    }
    if not include_partial:
        return sorted(complete), complete
    withdrawn = {
        int(r[0]) for r in store.conn.execute("SELECT document_id FROM document_status WHERE status = 'withdrawn'")
    }
    return sorted((complete | set(store.labeled_document_ids())) - withdrawn), complete


def load_docs(
    store: Store,
    progress: Progress | None = None,
    include_partial: bool = False,
    sink: Callable[[list[ReleaseDoc]], None] | None = None,
) -> tuple[list[ReleaseDoc], list[dict[str, Any]]]:
    """Documents to release with their approved spans; spans that do not fit their text are reported.
    `sink` gets them 10,000 at a time as they are read (the tokenizing process starts on them)."""
    ids, complete = release_document_ids(store, include_partial)
    by_doc: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
    for r in store.conn.execute(
        'SELECT document_id, start, "end", label, text FROM labels ORDER BY document_id, start, "end", label'
    ):
        by_doc[int(r[0])].append((r[1], r[2], r[3], r[4]))
    docs: list[ReleaseDoc] = []
    invalid: list[dict[str, Any]] = []
    rows = store.conn.execute(
        "SELECT id, text, lang, source, content_hash, provenance FROM documents"
        " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(ids),),
    )
    for n, row in enumerate(rows, 1):
        text = row["text"]
        spans = []
        for start, end, label, stored in by_doc.get(row["id"], []):
            try:
                span = Span(start=start, end=end, label=label, text=stored)
                span.check_against(text)
            except (ValidationError, ValueError) as exc:
                invalid.append(
                    {"doc": row["id"], "start": start, "end": end, "label": label, "error": str(exc).splitlines()[0]}
                )
                continue
            # check_against compared a stored text; only an empty one needs filling in.
            spans.append(span if span.text else span.model_copy(update={"text": text[start:end]}))
        prov = json.loads(row["provenance"]) if row["provenance"] not in (None, "", "{}") else {}
        docs.append(
            ReleaseDoc(
                id=row["id"],
                text=text,
                lang=row["lang"],
                source=row["source"],
                content_hash=row["content_hash"],
                synthetic=bool(prov.get("synthetic")),
                spans=spans,
                complete=row["id"] in complete,
            )
        )
        if progress and n % 5000 == 0:
            progress("load", n, len(ids))
        if sink and n % 10_000 == 0:
            sink(docs[-10_000:])
    if sink and len(docs) % 10_000:
        sink(docs[-(len(docs) % 10_000) :])
    return docs, invalid


def apply_pii(
    docs: list[ReleaseDoc], mode: str, progress: Progress | None = None
) -> tuple[list[ReleaseDoc], dict[str, Any]]:
    found = dict.fromkeys(pii.KINDS, 0)
    redacted = in_spans = 0
    out = []
    for n, d in enumerate(docs, 1):
        matches = pii.scan(d.text)
        if matches:
            for k, v in pii.count(matches).items():
                found[k] += v
        if mode == "redact" and matches:
            in_spans += sum(1 for m in matches if any(s.start <= m.start and m.end <= s.end for s in d.spans))
            text, spans = pii.redact(d.id, d.text, d.spans, matches)
            d = d.model_copy(update={"text": text, "spans": spans})
            redacted += len(matches)
        out.append(d)
        if progress and n % 5000 == 0:
            progress("PII scan", n, len(docs))
    return out, {"mode": mode, "found": found, "redacted": redacted, "in_spans": in_spans}


def build_release(
    store: Store,
    opts: ReleaseOptions,
    actor: str,
    progress: Progress | None = None,
    exporters: list[Exporter] | None = None,
) -> ReleaseResult:
    """Write the release folder and record `release.create` by `actor` (a human)."""
    if not actor.startswith("human:"):
        raise StudioError(
            f"a release is a human decision, not one for {actor!r}: run it as (or after approval by) a person"
        )
    approved = store.approved_guideline()
    if approved is None:
        raise InvalidState(
            "no approved guideline: a release needs the labeling rules a human approved; "
            "review the guideline and approve a version first (see `studio status`)"
        )
    guideline, g_version = approved
    license_id = resolve_license(store, opts.license)
    version = opts.version or versions.next_version(store)
    versions.check_new(store, version)
    as_of = int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()[0])

    # Large releases tokenize in a second process while this one plans the splits (tokenproc.py).
    big = len(release_document_ids(store, opts.include_partial)[0]) >= tokenproc.PARALLEL_FROM
    with _gc_paused(), TokenProcess(guideline.language, opts.align) if big else contextlib.nullcontext() as job:
        docs, invalid = load_docs(store, progress, opts.include_partial, job.send if job else None)
        if not docs and guideline.task_type != "detection":
            _refuse_empty(store, opts.include_partial)
        n_synthetic = sum(d.synthetic for d in docs)
        if opts.exclude_synthetic:
            docs = [d for d in docs if not d.synthetic]  # the other process writes only those in splits
        loaded = docs
        docs, pii_info = apply_pii(docs, opts.pii, progress)
        if job:  # redacted texts are tokenized again
            job.send([d for d, before in zip(docs, loaded, strict=True) if d is not before])
        plan = plan_splits(docs, opts.split, opts.seed, opts.near_dup_threshold, opts.synthetic_to_train, progress)
        by_split = formats.split_lists(docs, plan.assignment, SPLITS)
        split_counts = {s: len(by_split.get(s, [])) for s in SPLITS}

        root = versions.releases_root(store, create=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".building-v{version}-", dir=root))
        try:
            if job:  # it writes spacy/ and conll/ while this process writes the rest
                job.write(tmp, by_split)
            (tmp / "data").mkdir()
            files = formats.write_jsonl(tmp, by_split, mark_complete=opts.include_partial)
            if progress:
                progress("JSONL", 1, 1)
            ctx = ExportContext(
                folder=tmp, version=version, task_type=guideline.task_type, lang=guideline.language,
                splits=plan.assignment, seed=opts.seed, split=opts.split,
                synthetic_to_train=opts.synthetic_to_train, exclude_synthetic=opts.exclude_synthetic,
            )  # fmt: skip
            reports = []
            for exporter in (
                exporters if exporters is not None else exporters_for(guideline.task_type, progress=progress)
            ):
                report = exporter(store, ctx)
                if not report.files:
                    continue  # nothing to export (e.g. no box dataset in a text project)
                for rel in report.files:
                    if not (tmp / rel).resolve().is_relative_to(tmp.resolve()) or not (tmp / rel).is_file():
                        raise StudioError(
                            f"exporter {report.name} reported {rel!r}, which is not a file in the release"
                        )
                reports.append(report.model_dump())
                files += report.files
            if progress:
                progress("exporters", 1, 1)

            info = _info(store, guideline, g_version, version, license_id, opts, docs, plan, split_counts, as_of)
            info.update(pii=pii_info, exporters=reports, invalid_spans=invalid)
            from studio.ops.team.release import summary as team_summary

            team = team_summary(store, [d.id for d in docs])
            if team:  # only in a project with annotators' assignments, so other releases stay as they were
                info["team"] = team
            info["review"] = stats.review_status(store, docs, plan.assignment, SPLITS, opts.include_partial)
            if n_synthetic:  # only then: releases without synthetic data stay byte for byte as before
                info["synthetic"] = stats.synthetic_share(
                    docs, plan.assignment, SPLITS, n_synthetic - sum(d.synthetic for d in docs)
                )
            if progress:
                progress("statistics", 1, 1)
            if job:
                tok = job.result()
                if progress:
                    progress("spaCy and CoNLL", 1, 1)
            else:
                tok = formats.write_token_formats(tmp, by_split, guideline.language, opts.align, progress)
            files += tok.files
            info["token_formats"] = {
                "entities": tok.entities,
                "adjusted": sum(1 for m in tok.misaligned if m["status"] == "adjusted"),
                "dropped": sum(1 for m in tok.misaligned if m["status"] == "dropped"),
                "overlaps": len(tok.overlaps),
            }
            release_json = {**info, "misaligned_spans": tok.misaligned, "overlapping_spans": tok.overlaps}
            formats.write_text(
                tmp / "release.json", json.dumps(release_json, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
            )
            formats.write_text(tmp / "README.md", card.render(info, guideline))
            formats.write_text(tmp / "LICENSE", licenses.license_text(license_id, guideline.goal))
            files += ["release.json", "README.md", "LICENSE"]
            if progress:
                progress("card", 1, 1)
            manifest_sha = write_manifest(tmp)
            files.append("MANIFEST.json")

            final = versions.release_dir(store, version)
            with store.transaction():
                # Checked again under the write lock: another release of this version may have landed.
                versions.check_new(store, version)
                d = store.record(
                    actor,
                    "release.create",
                    [f"release:{version}"],
                    {
                        "version": version,
                        "path": f"{versions.RELEASES_DIR}/v{version}",
                        "manifest_sha256": manifest_sha,
                        "guideline_version": g_version,
                        "license": license_id,
                        "documents": len(docs),
                        "spans": info["spans"],
                        "split_counts": split_counts,
                        "pending_left_out": info["quality"]["pending_total"],
                        "pii": {"mode": opts.pii, "found": pii_info["found"]},
                        "seed": opts.seed,
                        "split": list(opts.split),
                        "as_of_decision": as_of,
                        # Only when an exporter wrote files, so text-only release decisions stay as they were.
                        **({"exporters": {r["name"]: r["counts"] for r in reports}} if reports else {}),
                    },
                    opts.rationale,
                )
                tmp.rename(final)
        except BaseException:
            if job:  # stopped first: it may be writing into the folder
                job.close()
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
            raise
    if progress:
        progress("manifest", 1, 1)
    return ReleaseResult(
        version=version,
        path=str(final),
        decision_id=int(d.id or 0),
        manifest_sha256=manifest_sha,
        documents=len(docs),
        spans=info["spans"],
        split_counts=split_counts,
        pending_left_out=info["quality"]["pending_total"],
        pii_found=pii_info["found"],
        pii_mode=opts.pii,
        misaligned=len(tok.misaligned),
        dropped_overlaps=len(tok.overlaps),
        files=sorted(files),
        extra={
            "invalid_spans": len(invalid),
            "exporters": [r["name"] for r in reports],
            "exporter_counts": {r["name"]: r["counts"] for r in reports},
        },
    )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a release runs. A release makes and keeps hundreds of
    thousands of small objects (documents, spans, shingle sets) and no reference cycles to speak of;
    the collector's full passes over them cost about as much as the work (reading 100k documents:
    3.5 s of CPU with it, 1.5 s without). Turned back on (if it was) when the release ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _refuse_empty(store: Store, include_partial: bool) -> None:
    from studio.ops.review.documents import status_counts

    counts = status_counts(store)
    if include_partial or not counts["partial"]:
        return  # nothing reviewed at all: an empty text release, as before (e.g. boxes only)
    raise InvalidState(
        f"no document is complete yet ({counts['partial']} partly reviewed): finish documents with `d` in "
        "`studio review` (or the app's Labels screen), or release them marked incomplete with --include-partial"
    )


def _info(
    store: Store,
    guideline: Guideline,
    g_version: int,
    version: str,
    license_id: str,
    opts: ReleaseOptions,
    docs: list[ReleaseDoc],
    plan: Any,
    split_counts: dict[str, int],
    as_of: int,
) -> dict[str, Any]:
    used = sorted({s.label for d in docs for s in d.spans})
    goal_line = guideline.goal.strip().splitlines()[0] if guideline.goal.strip() else "Studio dataset"
    return {
        "version": version,
        "pretty_name": goal_line[:80],
        "lang": guideline.language,
        "license": license_id,
        "guideline_version": g_version,
        "as_of_decision": as_of,
        "seed": opts.seed,
        "split_fractions": list(opts.split),
        "near_dup_threshold": opts.near_dup_threshold,
        "align": opts.align,
        "documents": len(docs),
        "spans": sum(len(d.spans) for d in docs),
        "split_counts": split_counts,
        "split_plan": plan.model_dump(exclude={"assignment"}),
        "label_counts": stats.label_counts(docs, plan.assignment, [s for s in SPLITS if split_counts[s]]),
        "labels_outside_guideline": [lab for lab in used if lab not in guideline.label_names()],
        "provenance": stats.provenance(store, [d.id for d in docs]),
        "quality": stats.quality(store, {d.id for d in docs}, as_of),
        "decisions": stats.decision_summary(store, as_of),
    }
