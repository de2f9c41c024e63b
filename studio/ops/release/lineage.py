"""Lineage: why a label is in the data. The chain from the human decision back to the model call."""

from __future__ import annotations

import json
from typing import Any

from studio.errors import NotFound
from studio.store import Store


def _decision(store: Store, decision_id: int | None) -> dict[str, Any] | None:
    if decision_id is None:
        return None
    row = store.conn.execute(
        "SELECT id, ts, actor, action, payload, rationale, session_id FROM decisions WHERE id = ?", (decision_id,)
    ).fetchone()
    if row is None:
        return None
    return {**dict(row), "payload": json.loads(row["payload"])}


def _guideline_at(store: Store, decision_id: int) -> int | None:
    """The guideline version approved when decision `decision_id` was made."""
    row = store.conn.execute(
        "SELECT payload FROM decisions WHERE action = 'guideline.approve' AND id < ? ORDER BY id DESC LIMIT 1",
        (decision_id,),
    ).fetchone()
    return None if row is None else json.loads(row[0]).get("version")


def _llm_call(store: Store, call_id: Any) -> dict[str, Any] | None:
    if call_id is None:
        return None
    row = store.conn.execute(
        "SELECT id, ts, provider, model, operation, request_hash, prompt_tokens, completion_tokens, latency_ms,"
        " cost_usd, cache_hit, error FROM llm_calls WHERE id = ?",
        (call_id,),
    ).fetchone()
    return {"id": call_id, "missing": True} if row is None else {**dict(row), "cache_hit": bool(row["cache_hit"])}


def _releases_with(store: Store, doc_id: int, decision_id: int) -> list[str]:
    """Releases made after this label was approved that include the document (by their folders)."""
    out = []
    for d in store.decisions(action="release.create", since_id=decision_id):
        path = store.root / str(d.payload.get("path", ""))
        for split in ("train", "validation", "test"):
            f = path / "data" / f"{split}.jsonl"
            # Each line starts with its id (keys are sorted), so a line prefix finds the document.
            if f.is_file() and f'\n{{"id":{doc_id},' in "\n" + f.read_text(encoding="utf-8"):
                out.append(f"{d.payload.get('version')} ({split})")
    return out


def why(store: Store, doc_id: int, start: int | None = None, end: int | None = None) -> list[dict[str, Any]]:
    """One chain per approved label of `doc_id` (or only the label at [start:end])."""
    store.document(doc_id)  # NotFound with a helpful message
    sql = 'SELECT start, "end", label, text, proposal_id, decision_id FROM labels WHERE document_id = ?'
    args: list[Any] = [doc_id]
    if start is not None and end is not None:
        sql += ' AND start = ? AND "end" = ?'
        args += [start, end]
    rows = store.conn.execute(sql + ' ORDER BY start, "end", label', args).fetchall()
    if not rows:
        from studio.ops.team.adjudicate import unsettled_note

        note = unsettled_note(store, doc_id)  # a team document: versions waiting for a reviewer
        if note:
            raise NotFound(note)
        where = f" at [{start}:{end}]" if start is not None else ""
        raise NotFound(f"document {doc_id} has no approved label{where} (pending proposals are not labels yet)")
    chains = []
    for r in rows:
        decision = _decision(store, r["decision_id"])
        chain: dict[str, Any] = {
            "document_id": doc_id,
            "span": {"start": r["start"], "end": r["end"], "label": r["label"], "text": r["text"]},
            "decision": decision,
            "guideline_version": _guideline_at(store, r["decision_id"]),
            "proposal": None,
            "proposed_by": None,
            "llm_call": None,
            "prompt": None,
        }
        if r["proposal_id"] is not None:
            p = store.proposal(int(r["proposal_id"]))
            chain["proposal"] = {
                "id": p.id,
                "source": p.source,
                "confidence": p.confidence,
                "sources": p.payload.get("sources", {}),
                "span": p.payload.get("span"),
                "batch": p.batch,
                "created_at": p.created_at,
            }
            prop_row = store.conn.execute("SELECT decision_id FROM proposals WHERE id = ?", (p.id,)).fetchone()
            proposer = _decision(store, prop_row[0]) if prop_row else None
            chain["proposed_by"] = {k: proposer[k] for k in ("id", "ts", "actor", "action")} if proposer else None
            chain["llm_call"] = _llm_call(store, p.payload.get("llm_call_id"))
            chain["prompt"] = p.payload.get("prompt")
        if decision and decision["action"] == "document.adjudicate":  # settled from annotators' versions
            chain["adjudication"] = {
                "method": decision["payload"].get("method"),
                "versions": decision["payload"].get("versions", {}),
                "from": next((x.get("by", []) for x in decision["payload"].get("spans", [])
                              if (x["start"], x["end"], x["label"]) == (r["start"], r["end"], r["label"])), []),
            }  # fmt: skip
        chain["releases"] = _releases_with(store, doc_id, int(r["decision_id"]))
        chains.append(chain)
    return chains


def render(chains: list[dict[str, Any]]) -> str:
    """The chains as text a person reads top-down: the label, who approved it, where it came from."""
    out = []
    for c in chains:
        s = c["span"]
        out.append(f"doc {c['document_id']} [{s['start']}:{s['end']}] {s['label']} {s['text']!r}")
        d = c["decision"]
        if d:
            note = f" - {d['rationale']}" if d["rationale"] else ""
            out.append(f"  approved: {d['action']} by {d['actor']} at {d['ts']} (decision #{d['id']}){note}")
            if d["action"].endswith(".edit") and d["payload"].get("before"):
                b = d["payload"]["before"]
                out.append(f"  edited from: [{b.get('start')}:{b.get('end')}] {b.get('label')} {b.get('text', '')!r}")
        if c.get("adjudication"):
            out += _render_adjudication(c["adjudication"], c["span"])
        gv = c["guideline_version"]
        out.append(f"  guideline: v{gv}" if gv is not None else "  guideline: none approved at the time")
        p = c["proposal"]
        if p is None:
            out.append("  proposal: none (added by hand)")
        else:
            conf = "n/a" if p["confidence"] is None else f"{p['confidence']:.2f}"
            out.append(
                f"  proposal #{p['id']}: source {p['source'] or 'unknown'}, confidence {conf}, batch {p['batch'] or '-'}"
            )
            if p["sources"]:
                out.append("  sources: " + ", ".join(f"{k}={v}" for k, v in sorted(p["sources"].items())))
            if c["proposed_by"]:
                pb = c["proposed_by"]
                out.append(f"  proposed: {pb['action']} by {pb['actor']} at {pb['ts']} (decision #{pb['id']})")
            if c["prompt"]:
                pr = c["prompt"]
                out.append(f"  prompt: {pr.get('name', pr) if isinstance(pr, dict) else pr}"
                           + (f" v{pr['version']}" if isinstance(pr, dict) and pr.get("version") else ""))  # fmt: skip
            call = c["llm_call"]
            if call and call.get("missing"):
                out.append(f"  llm call #{call['id']}: not in this project's log")
            elif call:
                out.append(
                    f"  llm call #{call['id']}: {call['provider']}:{call['model']} ({call['operation'] or '-'}) at "
                    f"{call['ts']}, tokens {call['prompt_tokens']}+{call['completion_tokens']}"
                    + (", cached" if call["cache_hit"] else "")
                )
            elif not p["source"].startswith("llm"):
                out.append(f"  source: {p['source'] or 'unknown'} (no model call)")
        if c["releases"]:
            out.append("  released in: " + ", ".join(c["releases"]))
        out.append("")
    return "\n".join(out).rstrip("\n")


def _render_adjudication(adj: dict[str, Any], span: dict[str, Any]) -> list[str]:
    """The annotators' versions behind an adjudicated label, and which of them had this span."""
    out = [f"  adjudicated ({adj['method']}); this span was in: {', '.join(adj['from']) or 'no version (added)'}"]
    for name, v in sorted(adj["versions"].items()):
        spans = ", ".join(f"[{s}:{e}] {lab}" for s, e, lab in v.get("spans", []))
        out.append(f"  version {name}: {spans or '(no spans)'} (last decision #{v.get('decision')})")
    return out
