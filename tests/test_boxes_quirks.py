"""Label-file quirks: byte-order marks, CRLF endings, and a yaml `path` naming a big folder (issue 25, defect 8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.ops.boxes import CleanseOptions, apply_fixes, fix_proposals, read_dataset, run_cleanse
from studio.store import Store
from tests.conftest import FIXTURES

BOXES = FIXTURES / "boxes"


def accept(store: Store, check: str) -> None:
    for p in fix_proposals(store):
        store.decide(p.id or 0, "human:tester", "accept" if p.payload["check"] == check else "reject")


def test_bom_prefixed_label_file_is_read(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    (root / "labels/train/img1.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n1 0.2 0.3 0.1 0.2\r\n")
    ds = read_dataset(root)
    im = ds.image("images/train/img1.png")
    assert [b.class_id for b in im.boxes] == [0, 1] and im.lines == [1, 2]
    assert not [p for p in ds.problems if p.file == "labels/train/img1.txt"]


def test_apply_keeps_crlf_bom_and_untouched_lines_byte_for_byte(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    src = root / "labels/train/img1.txt"
    # BOM, CRLF, an exact duplicate (line 2), a malformed line, odd spacing, a bad byte, no final newline.
    src.write_bytes(
        b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n0 0.5 0.5 0.2 0.2\r\nx  y\r\n1   0.2 0.3 0.1 0.2 \r\n2 0.8 0.7 0.1 \xff0.2"
    )
    (root / "dataset.yaml").write_bytes((root / "dataset.yaml").read_bytes().replace(b"\n", b"\r\n"))
    run_cleanse(store, CleanseOptions(dataset=str(root)))
    accept(store, "exact_duplicate")
    res = apply_fixes(store, tmp_path / "out", str(root))
    assert [o["check"] for o in res.applied] == ["exact_duplicate"]
    assert (tmp_path / "out/labels/train/img1.txt").read_bytes() == (
        b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\nx  y\r\n1   0.2 0.3 0.1 0.2 \r\n2 0.8 0.7 0.1 \xff0.2"
    )
    yaml_out = (tmp_path / "out/dataset.yaml").read_bytes()
    assert b"\r\n" in yaml_out and b"\n" not in yaml_out.replace(b"\r\n", b"")
    assert read_dataset(tmp_path / "out").box_count() == read_dataset(root).box_count() - 1


def test_appended_lines_take_the_files_line_ending(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    shutil.copytree(BOXES / "yolo_preds", tmp_path / "preds")
    lbl = root / "labels/val/img3.txt"
    lbl.write_bytes(lbl.read_bytes().replace(b"\n", b"\r\n").rstrip(b"\r\n"))  # CRLF, no final newline
    run_cleanse(store, CleanseOptions(dataset=str(root), predictions=str(tmp_path / "preds")))
    accept(store, "missing_box")
    apply_fixes(store, tmp_path / "out", str(root))
    out = (tmp_path / "out/labels/val/img3.txt").read_bytes()
    assert out.startswith(lbl.read_bytes() + b"\r\n") and out.endswith(b"\r\n")
    assert out.count(b"\r\n") == out.count(b"\n") == lbl.read_bytes().count(b"\n") + 2


def test_apply_copies_only_the_files_the_dataset_lists(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`path: "~"` once copied the whole home folder (keys included) into the cleaned copy."""
    home = tmp_path / "home"
    shutil.copytree(BOXES / "yolo", home / "data")
    (home / ".ssh").mkdir()
    (home / ".ssh/id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / "notes.txt").write_text("private")
    (home / "data/README.txt").write_text("not part of the dataset")
    yaml_dir = tmp_path / "cfg"
    yaml_dir.mkdir()
    (yaml_dir / "dataset.yaml").write_text(
        'path: "~"\ntrain: data/images/train\nval: data/images/val\nnames: [car, person, dog]\n'
    )
    monkeypatch.setenv("HOME", str(home))
    run_cleanse(store, CleanseOptions(dataset=str(yaml_dir / "dataset.yaml")))
    accept(store, "exact_duplicate")
    out = tmp_path / "out"
    res = apply_fixes(store, out, str(yaml_dir / "dataset.yaml"))
    assert len(res.applied) == 1
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copied == [
        "cleanse_report.json",
        "cleanse_report.md",
        "data/images/train/img1.png",
        "data/images/train/img2.png",
        "data/images/train/img4.png",
        "data/images/val/img3.jpg",
        "data/labels/train/img1.txt",
        "data/labels/train/img2.txt",
        "data/labels/train/orphan.txt",
        "data/labels/val/img3.txt",
        "dataset.yaml",
        f"previews/fix-{res.applied[0]['proposal_id']}.png",
    ]
    assert read_dataset(out).box_count() == read_dataset(yaml_dir / "dataset.yaml").box_count() - 1
