"""The cleanse report: counts per check and per class, and every fix applied or skipped."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from studio.schema import Proposal, utcnow


def proposal_class(p: Proposal) -> str:
    """The class a fix is about: its first label box, else the box it adds, else '(file)'."""
    for b in p.payload.get("boxes") or []:
        if not b.get("prediction"):
            return str(b.get("class"))
    result = p.payload.get("result")
    if result:
        return str(result.get("class"))
    return "(file)"


def build_report(
    dataset: str,
    format: str,
    out: str,
    proposals: list[Proposal],
    outcomes: list[dict[str, Any]],
    before: dict[str, int],
    after: dict[str, int],
) -> dict[str, Any]:
    by_check: dict[str, dict[str, int]] = defaultdict(
        lambda: {"found": 0, "accepted": 0, "rejected": 0, "pending": 0, "applied": 0, "skipped": 0}
    )
    by_class: dict[str, dict[str, int]] = defaultdict(lambda: {"found": 0, "applied": 0})
    status_key = {"accepted": "accepted", "rejected": "rejected", "pending": "pending", "edited": "accepted"}
    for p in proposals:
        check = str(p.payload.get("check"))
        by_check[check]["found"] += 1
        if p.status in status_key:
            by_check[check][status_key[p.status]] += 1
        by_class[proposal_class(p)]["found"] += 1
    for o in outcomes:
        by_check[o["check"]][o["status"]] += 1
        if o["status"] == "applied":
            by_class[o["class"]]["applied"] += 1
    return {
        "dataset": dataset,
        "format": format,
        "out": out,
        "created_at": utcnow(),
        "images": {"before": before["images"], "after": after["images"]},
        "boxes": {"before": before["boxes"], "after": after["boxes"]},
        "by_check": dict(sorted(by_check.items())),
        "by_class": dict(sorted(by_class.items())),
        "applied": [o for o in outcomes if o["status"] == "applied"],
        "skipped": [o for o in outcomes if o["status"] == "skipped"],
    }


def report_markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Cleanse report",
        "",
        f"- dataset: `{r['dataset']}` ({r['format']})",
        f"- cleaned copy: `{r['out']}`",
        f"- created: {r['created_at']}",
        f"- images: {r['images']['before']} -> {r['images']['after']}",
        f"- boxes: {r['boxes']['before']} -> {r['boxes']['after']}",
        "",
        "## Per check",
        "",
        "| check | found | accepted | rejected | pending | applied | skipped |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for check, c in r["by_check"].items():
        lines.append(
            f"| {check} | {c['found']} | {c['accepted']} | {c['rejected']} | {c['pending']} | {c['applied']} | {c['skipped']} |"
        )
    lines += ["", "## Per class", "", "| class | found | applied |", "|---|---:|---:|"]
    for cls, c in r["by_class"].items():
        lines.append(f"| {cls} | {c['found']} | {c['applied']} |")
    lines += ["", "## Fixes applied", ""]
    if not r["applied"]:
        lines.append("(none)")
    previews = r.get("previews") or {}

    def link(o: dict[str, Any]) -> str:
        png = previews.get(str(o["proposal_id"]))
        return f" ([picture]({png}))" if png else ""

    for o in r["applied"]:
        where = f"{o['image']}" + (f" lines {', '.join(map(str, o['lines']))}" if o["lines"] else "")
        lines.append(f"- #{o['proposal_id']} {o['check']}: {o['fix']} {where}{link(o)}")
    if r["skipped"]:
        lines += ["", "## Approved but not applied", ""]
        for o in r["skipped"]:
            lines.append(f"- #{o['proposal_id']} {o['check']}: {o['fix']} {o['image']}: {o['reason']}{link(o)}")
    n_fixes = len(r["applied"]) + len(r["skipped"])
    if n_fixes > len(previews):
        lines += [
            "",
            f"Pictures for the first {len(previews)} of {n_fixes} fixes (`studio cleanse --show ID -o F.png`).",
        ]
    syn = r.get("synthetic") or {}
    if syn.get("added") or syn.get("skipped"):
        lines += ["", "## Synthetic images (studio augment, approved)", ""]
        lines += [f"- #{a['proposal_id']} {a['image']} (from {a['source_image']})" for a in syn.get("added", [])]
        lines += [f"- #{a['proposal_id']} skipped: {a['reason']}" for a in syn.get("skipped", [])]
        lines.append("\nListed with their recipes in `studio_synthetic.json`; releases keep them in train only.")
    if r.get("not_copied"):
        lines += ["", "## Listed files outside the dataset root (not copied)", ""]
        lines += [f"- `{f}`" for f in r["not_copied"]]
    return "\n".join(lines) + "\n"
