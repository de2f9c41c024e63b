"""Box-aware augmentation: boxes follow the pixels, every label passes the checks, pastes cover little,
approved images reach the cleaned copy and releases (train only, counted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.ops import registry
from studio.ops.boxes import CleanseOptions, apply_fixes, read_dataset, run_checks, run_cleanse
from studio.ops.boxes.augment import augment_dataset, thin_classes
from studio.ops.registry import OpContext
from studio.ops.release import ReleaseOptions, build_release
from studio.schema import Guideline, LabelDef
from studio.store import Store
from tests.conftest import run_cli

HUMAN = "human:ann"
W, H = 160, 120
BG = 20


def rect(img: np.ndarray, x1: int, y1: int, x2: int, y2: int, colour: tuple[int, int, int]) -> str:
    img[y1:y2, x1:x2] = colour
    return f"{(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} {(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}"


def make_dataset(root: Path, n_common: int = 10, n_thin: int = 3) -> Path:
    """`car` (class 0, dark blue blocks) in every image; `bike` (class 1, one solid white rectangle) in a few."""
    (root / "images/train").mkdir(parents=True)
    (root / "labels/train").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(n_common + n_thin):
        img = np.full((H, W, 3), BG, np.uint8)
        lines = []
        if i < n_thin:
            x, y = int(rng.integers(30, 70)), int(rng.integers(25, 50))
            lines.append("1 " + rect(img, x, y, x + 37 + i * 5, y + 29 + i * 3, (255, 255, 255)))
        else:
            for k in range(3):
                x, y = 5 + k * 52, int(rng.integers(10, 70))
                lines.append("0 " + rect(img, x, y, x + 30, y + 22, (20, 20, 90)))
        Image.fromarray(img).save(root / f"images/train/im{i:02d}.png")
        (root / f"labels/train/im{i:02d}.txt").write_text("\n".join(lines) + "\n")
    (root / "dataset.yaml").write_text("path: .\ntrain: images/train\nnames: [car, bike]\n")
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds")


def pixel_bbox(img: np.ndarray, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The bounding box of the bright object around the label's centre (threshold halfway to the background)."""
    gray = img.astype(float).mean(axis=2)
    cx, cy = int(box[0] * img.shape[1]), int(box[1] * img.shape[0])
    background = max(
        float(np.median(gray)), float(gray[0, 0]), float(gray[-1, -1]), float(gray[0, -1]), float(gray[-1, 0])
    )
    ys, xs = np.nonzero(gray > (gray[cy, cx] + background) / 2)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_transformed_box_is_the_rectangles_bounding_box(dataset: Path, tmp_path: Path) -> None:
    ds = read_dataset(dataset)
    assert thin_classes(ds, 0.5) == [1]
    made, rejected = augment_dataset(ds, [1], tmp_path / "aug", per_image=4, seed=3, copy_paste=False)
    assert len(made) == 12 and not rejected
    rotated = 0
    for g in made:
        img = np.asarray(Image.open(g.file).convert("RGB"))
        (b,) = g.boxes
        got = (
            (b.cx - b.w / 2) * g.width,
            (b.cy - b.h / 2) * g.height,
            (b.cx + b.w / 2) * g.width,
            (b.cy + b.h / 2) * g.height,
        )
        want = pixel_bbox(img, (b.cx, b.cy, b.w, b.h))
        assert max(abs(x - y) for x, y in zip(got, want, strict=True)) <= 1.0, (g.file.name, got, want, g.recipe)
        steps = {s["name"]: s for s in g.recipe["params"]["steps"]}
        rotated += abs(steps["Affine"]["rotate"]) > 3
        assert g.recipe["transform"] == "transform" and g.recipe["source_image"].startswith("images/train/im0")
    assert rotated >= 4  # rotated objects too: their box is the box around the rotated rectangle


def test_every_written_label_passes_the_checks_and_pastes_cover_little(dataset: Path, tmp_path: Path) -> None:
    ds = read_dataset(dataset)
    out = tmp_path / "aug"
    made, _ = augment_dataset(ds, [1], out, per_image=6, seed=9, copy_paste=True, max_cover=0.15)
    pasted = [g for g in made if g.recipe["transform"] == "copy_paste"]
    assert len(pasted) >= 6 and len(made) > len(pasted)
    written = read_dataset(out)  # the batch folder is a YOLO dataset of its own
    assert len(written.images) == len(made) and not written.problems
    assert run_checks(written) == []
    for im in written.images:
        for b in im.boxes:
            assert (
                b.cx - b.w / 2 >= 0 and b.cx + b.w / 2 <= 1 + 1e-9 and 0 <= b.cy - b.h / 2 <= b.cy + b.h / 2 <= 1 + 1e-9
            )
    for g in pasted:
        new, others = g.boxes[-1], g.boxes[:-1]
        assert new.class_id == 1 and g.recipe["paste_from"] != g.source_image
        for b in others:
            iw = max(0.0, min(new.cx + new.w / 2, b.cx + b.w / 2) - max(new.cx - new.w / 2, b.cx - b.w / 2))
            ih = max(0.0, min(new.cy + new.h / 2, b.cy + b.h / 2) - max(new.cy - new.h / 2, b.cy - b.h / 2))
            assert iw * ih / (b.w * b.h) <= 0.15 + 1e-6
        # The pasted pixels are the white object.
        img = np.asarray(Image.open(g.file).convert("L"))
        x, y = int(new.cx * g.width), int(new.cy * g.height)
        assert img[y, x] == 255


def test_same_seed_same_images(dataset: Path, tmp_path: Path) -> None:
    ds = read_dataset(dataset)
    a, _ = augment_dataset(ds, [1], tmp_path / "a", per_image=2, seed=4)
    b, _ = augment_dataset(ds, [1], tmp_path / "b", per_image=2, seed=4)
    assert [g.recipe for g in a] == [g.recipe for g in b]
    assert [g.file.read_bytes() for g in a] == [g.file.read_bytes() for g in b]


def test_approved_images_reach_the_copy_and_the_release_train_split_only(dataset: Path, tmp_path: Path) -> None:
    store = Store.init(tmp_path / "proj")
    store.start_session("test")
    g = Guideline(goal="cars and bikes", task_type="detection",
                  labels=[LabelDef(name=n, definition=f"a {n}") for n in ("car", "bike")])  # fmt: skip
    store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
    run_cleanse(store, CleanseOptions(dataset=str(dataset)))  # a clean set: nothing found
    res = registry.run("augment", {"dataset": str(dataset), "per_image": 4, "seed": 2}, OpContext(store, actor=HUMAN))
    assert res.classes == ["bike"] and res.proposed == len(res.proposal_ids) >= 8
    assert not store.events(kind="file")  # the session recording names the dataset, it does not inline its images
    props = store.proposals(kind="box_augment")
    assert {p.payload["recipe"]["transform"] for p in props} == {"transform", "copy_paste"}
    accepted = props[:-2]
    for p in accepted:
        store.decide(p.id or 0, HUMAN, "accept")
    store.decide(props[-1].id or 0, HUMAN, "reject")
    applied = apply_fixes(store, tmp_path / "clean", str(dataset))
    assert [a["proposal_id"] for a in applied.report["synthetic"]["added"]] == [p.id for p in accepted]
    clean = read_dataset(tmp_path / "clean")
    synthetic = [im for im in clean.images if im.synthetic]
    assert len(synthetic) == len(accepted) and all(im.split == "train" for im in synthetic)
    assert run_checks(clean) == []

    rel = build_release(store, ReleaseOptions(seed=1, license="CC-BY-4.0"), HUMAN)
    info = json.loads((Path(rel.path) / "release.json").read_text())
    det = next(e for e in info["exporters"] if e["name"] == "detection")
    syn = det["details"]["synthetic"]
    labels = Path(rel.path) / "detection/yolo/labels"
    released = {p.relative_to(labels).as_posix() for p in labels.rglob("*__aug*.txt")}
    assert released and all(r.startswith("train/") for r in released)
    assert syn["images"] == {"train": len(released), "val": 0, "test": 0}
    assert len(released) + syn["left_out_source_in_evaluation"] == len(accepted)
    lines = [ln for r in released for ln in (labels / r).read_text().splitlines()]
    car_syn = sum(1 for ln in lines if ln.startswith("0 "))
    assert syn["boxes"]["car"]["train"] == car_syn and syn["boxes"]["bike"]["total"] == len(lines) - car_syn > 0
    all_bike = sum(1 for p in labels.rglob("*.txt") for ln in p.read_text().splitlines() if ln.startswith("1 "))
    assert syn["boxes"]["bike"]["of"] == all_bike
    assert "Synthetic images (made by `studio augment`" in (Path(rel.path) / "README.md").read_text()

    rel2 = build_release(store, ReleaseOptions(seed=1, license="CC-BY-4.0", exclude_synthetic=True), HUMAN)
    labels2 = Path(rel2.path) / "detection/yolo/labels"
    assert not list(labels2.rglob("*__aug*"))
    det2 = next(
        e for e in json.loads((Path(rel2.path) / "release.json").read_text())["exporters"] if e["name"] == "detection"
    )
    assert det2["details"]["synthetic"]["excluded"] == len(accepted)
    store.close()


def test_augment_cli_json_and_errors(dataset: Path, tmp_path: Path) -> None:
    proj = tmp_path / "p"
    Store.init(proj).close()
    code, out, err = run_cli(
        "--project", str(proj), "augment", str(dataset), "--classes", "bike", "--per-image", "1", "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["classes"] == ["bike"] and res["proposed"] == 3 and res["boxes_before"] == {"car": 30, "bike": 3}
    code, _, err = run_cli("--project", str(proj), "augment", str(dataset), "--classes", "truck")
    assert code != 0 and "no such class" in err and "car, bike" in err and "Traceback" not in err


def test_coco_copy_gets_image_records_and_annotations(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import FIXTURES

    shutil.copytree(FIXTURES / "boxes" / "coco", tmp_path / "coco")
    src = tmp_path / "coco" / "annotations.json"
    store = Store.init(tmp_path / "proj")
    store.start_session("test")
    run_cleanse(store, CleanseOptions(dataset=str(src)))
    res = registry.run("augment", {"dataset": str(src), "classes": ["car", "person"], "per_image": 3}, OpContext(store))
    assert res.proposed >= 2
    for pid in res.proposal_ids:
        store.decide(pid, HUMAN, "accept")
    out = apply_fixes(store, tmp_path / "clean", str(src))
    assert len(out.report["synthetic"]["added"]) == res.proposed
    clean = read_dataset(tmp_path / "clean" / "annotations.json")
    synthetic = [im for im in clean.images if im.synthetic]
    assert len(synthetic) == res.proposed and all(
        im.exists and (tmp_path / "clean" / im.name).is_file() for im in synthetic
    )
    view = clean.model_copy(update={"images": synthetic})
    assert run_checks(view) == [] and view.box_count() == sum(
        len(p.payload["boxes"]) for p in store.proposals(kind="box_augment", status=None)
    )
    store.close()


def ultralytics_label_rules(text: str, nc: int) -> list[str]:
    """What Ultralytics' dataset check (`verify_image_label`) refuses in a detection label file."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    errors = [f"{len(r)} columns" for r in rows if len(r) != 5]
    vals = np.array([[float(x) for x in r] for r in rows if len(r) == 5]).reshape(-1, 5)
    if (vals < 0).any():
        errors.append("negative value")
    if (vals[:, 1:] > 1).any():
        errors.append("coordinate over 1")
    if len(vals) and vals[:, 0].max() >= nc:
        errors.append("class id over nc")
    if len(np.unique(vals, axis=0)) < len(vals):
        errors.append("duplicate rows")
    return errors


def test_shipped_fixture_augmented_labels_pass_ultralytics_rules(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import FIXTURES

    shutil.copytree(FIXTURES / "boxes" / "yolo", tmp_path / "yolo")
    ds = read_dataset(tmp_path / "yolo")
    made, rejected = augment_dataset(ds, sorted(ds.names), tmp_path / "aug", per_image=6, seed=1, train_only=False)
    assert made and rejected  # img1 (duplicates) and img2 (invalid boxes) cannot be sources
    for g in made:
        text = (tmp_path / "aug/labels" / g.file.with_suffix(".txt").name).read_text()
        assert ultralytics_label_rules(text, len(ds.names)) == [], g.file.name
    assert run_checks(read_dataset(tmp_path / "aug")) == []
