"""Detection in releases: YOLO tree and COCO JSON read back by their consumers, approved fixes only."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from studio.errors import StudioError
from studio.ops.boxes import CleanseOptions, apply_fixes, fix_proposals, read_dataset, run_cleanse
from studio.ops.release import ReleaseOptions, build_release
from studio.ops.release.manifest import verify
from studio.schema import Document, Guideline, LabelDef
from studio.store import Store
from tests.conftest import FIXTURES, run_cli

BOXES = FIXTURES / "boxes"
HUMAN = "human:ann"


def tree_hash(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def new_store(root: Path, task_type: str = "detection") -> Store:
    store = Store.init(root)
    store.start_session("test")
    g = Guideline(
        goal="Boxes around cars, people and dogs",
        task_type=task_type,  # type: ignore[arg-type]
        labels=[LabelDef(name=n, definition=f"a {n}") for n in ("car", "person", "dog")],
    )
    store.decide_guideline(store.add_guideline(g, "agent"), HUMAN, "approve")
    return store


def decide(store: Store, verdicts: dict[tuple[str, tuple[int, ...]], str]) -> None:
    """Accept or reject the proposals named by (check, lines); leave the others pending."""
    for p in fix_proposals(store):
        verb = verdicts.get((p.payload["check"], tuple(p.payload["lines"])))
        if verb:
            store.decide(p.id or 0, HUMAN, verb)


YOLO_VERDICTS = {
    ("exact_duplicate", (2,)): "accept",  # img1 line 2 dropped
    ("near_duplicate", (3, 4)): "accept",  # img1 lines 3+4 merged into one box
    ("class_conflict", (6,)): "reject",  # img1 line 6 (dog) stays
    ("invalid_value", (1,)): "accept",
}


def label_lines(folder: Path) -> dict[str, list[list[float]]]:
    out = {}
    for f in sorted((folder / "detection/yolo/labels").rglob("*.txt")):
        out[f.relative_to(folder / "detection/yolo/labels").as_posix()] = [
            [float(x) for x in line.split()] for line in f.read_text(encoding="utf-8").splitlines()
        ]
    return out


def check_yolo_tree(folder: Path) -> dict[str, str]:
    """Every label line valid and beside an existing image; returns image file -> split."""
    yolo = folder / "detection/yolo"
    meta = yaml.safe_load((yolo / "dataset.yaml").read_text(encoding="utf-8"))
    assert set(meta) == {"path", "train", "val", "test", "names"}
    names = meta["names"]
    assert sorted(names) == list(range(len(names)))
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        images = yolo / meta[split]
        assert images.is_dir()
        labels = sorted((yolo / "labels" / split).glob("*.txt"))
        imgs = sorted(p for p in images.iterdir())
        assert [p.stem for p in imgs] == [p.stem for p in labels]  # one label file per image, and no orphans
        for img in imgs:
            assert img.is_file() and not img.is_symlink()
            seen[img.name] = split
        for lf in labels:
            for n, line in enumerate(lf.read_text(encoding="utf-8").splitlines(), 1):
                parts = line.split()
                assert len(parts) == 5, f"{lf}:{n}"
                assert int(parts[0]) in names and parts[0] == str(int(parts[0]))
                cx, cy, w, h = (float(x) for x in parts[1:])
                assert all(math.isfinite(v) and 0 <= v <= 1 for v in (cx, cy, w, h)), f"{lf}:{n}"
                assert w > 0 and h > 0
                assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6 and cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6
    return seen


def check_coco(folder: Path, seen: dict[str, str]) -> int:
    """Each split's COCO loads with pycocotools and matches the YOLO tree; returns the annotation count."""
    from pycocotools.coco import COCO

    total = 0
    for split in ("train", "val", "test"):
        path = folder / "detection/coco" / f"{split}.json"
        want = sorted(f for f, s in seen.items() if s == split)
        if not want:
            assert not path.exists()
            continue
        coco = COCO(str(path))
        imgs = coco.loadImgs(coco.getImgIds())
        assert sorted(Path(i["file_name"]).name for i in imgs) == want
        for i in imgs:
            assert (folder / "detection" / i["file_name"]).is_file()
            n_lines = len(
                (folder / "detection/yolo/labels" / split / (Path(i["file_name"]).stem + ".txt"))
                .read_text()
                .splitlines()
            )
            assert len(coco.getAnnIds(imgIds=[i["id"]])) == n_lines
        total += len(coco.getAnnIds())
    return total


def consumers_accept(folder: Path) -> None:
    """Ultralytics' own dataset and label checks, when it imports (torchvision is not needed for these)."""
    utils = pytest.importorskip("ultralytics.data.utils")
    data = utils.check_det_dataset(str(folder / "detection/yolo/dataset.yaml"), autodownload=False)
    assert Path(data["path"]) == (folder / "detection/yolo").resolve() and data["nc"] == len(data["names"])
    for img in sorted((folder / "detection/yolo/images").rglob("*.*")):
        lb = folder / "detection/yolo/labels" / img.parent.name / (img.stem + ".txt")
        res = utils.verify_image_label((str(img), str(lb), "", False, data["nc"], 0, 0, False))
        assert res[8] == 0, res[-1]  # nc: corrupt count


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    shutil.copytree(BOXES / "yolo", tmp_path / "src" / "yolo")
    return tmp_path / "src" / "yolo"


def test_yolo_release_applies_approved_fixes_only(tmp_path: Path, yolo: Path) -> None:
    before = tree_hash(yolo)
    store = new_store(tmp_path / "proj")
    run_cleanse(store, CleanseOptions(dataset=str(yolo)))
    decide(store, YOLO_VERDICTS)
    pending = fix_proposals(store)
    r = build_release(store, ReleaseOptions(license="CC-BY-4.0"), HUMAN)
    folder = Path(r.path)
    assert tree_hash(yolo) == before  # the source is only read
    assert verify(folder) == [] and r.extra["exporters"] == ["detection"]
    assert {f for f in r.files if f.startswith("detection/")} == {
        p.relative_to(folder).as_posix() for p in (folder / "detection").rglob("*") if p.is_file()
    }

    seen = check_yolo_tree(folder)
    n_ann = check_coco(folder, seen)
    # All four images are released (img4 has a pending missing_label fix: released as labeled, empty).
    assert sorted(seen) == ["img1.png", "img2.png", "img3.jpg", "img4.png"]
    for name, split in seen.items():
        src = next(yolo.rglob(name))
        assert (folder / "detection/yolo/images" / split / name).read_bytes() == src.read_bytes()
    labels = label_lines(folder)
    img1 = labels[f"{seen['img1.png']}/img1.txt"]
    src_img1 = [[float(x) for x in ln.split()] for ln in (yolo / "labels/train/img1.txt").read_text().splitlines()]
    # Source: 1, 2 (dup of 1), 3, 4 (near dup of 3), 5 car, 6 dog on 5. Released: 1, merge(3,4), 5, 6.
    merged = [(a + b) / 2 for a, b in zip(src_img1[2][1:], src_img1[3][1:], strict=True)]
    assert len(img1) == 4
    assert img1[0] == src_img1[0] and img1[2] == src_img1[4] and img1[3] == src_img1[5]
    assert img1[1][0] == src_img1[2][0] and img1[1][1:] == pytest.approx(merged, abs=1e-6)
    assert int(img1[3][0]) == 2  # the dog whose removal was rejected is still there
    # img2: line 1 (NaN) dropped by an approved fix; the other invalid boxes are left out or clipped for the
    # formats and listed; 3 malformed lines are skipped and counted.
    info = json.loads((folder / "release.json").read_text())
    det = next(e for e in info["exporters"] if e["name"] == "detection")
    d = det["details"]
    assert d["source"]["origin"] == "fixes" and d["source"]["fixes_applied"] == 3
    # Line 9 is within the cleanse tolerance but wholly past the right edge: no format can hold it.
    assert d["left_out"]["boxes"] == {"invalid_size": 1, "outside_image": 2, "unknown_class": 1}
    assert d["clipped"] == 1 and len(d["unreadable"]) == 3
    # Lines 1-5 and 8-10 parse; the NaN one is dropped by the approved fix, 4 are left out: 4, 5, 8 remain.
    img2 = labels[f"{seen['img2.png']}/img2.txt"]
    assert [b[0] for b in img2] == [0, 1, 0] and img2[0][1] + img2[0][3] / 2 == pytest.approx(1.0)
    assert [d["line"] for d in d["adjustments"] if d["action"] == "left out"] == [2, 3, 9, 10]
    assert labels[f"{seen['img4.png']}/img4.txt"] == []
    assert n_ann == sum(len(v) for v in labels.values()) == det["counts"]["boxes"]
    assert d["fixes"]["pending"] == len(pending) and d["fixes"]["by_check"]["class_conflict"]["rejected"] == 1
    assert d["fixes"]["by_check"]["exact_duplicate"] == {"accepted": 1, "rejected": 0, "pending": 0}
    # Read back by the boxes area's own reader, from another folder: same images and boxes.
    back = read_dataset(folder / "detection/yolo")
    assert len(back.images) == 4 and back.box_count() == n_ann and not back.problems
    assert back.names == {0: "car", 1: "person", 2: "dog"}

    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "## Detection" in card and "task_categories:\n- object-detection" in card
    assert "| exact_duplicate | 1 | 0 | 0 |" in card and "| class_conflict | 0 | 1 | 0 |" in card
    assert f"Pending box fixes not applied: {len(pending)} " in card
    assert "configs:" not in card.split("\n---\n")[0]  # no text: no Hugging Face config of missing files
    decision = store.decisions(action="release.create")[-1]
    assert decision.payload["exporters"]["detection"]["images"] == 4
    consumers_accept(folder)
    store.close()


def test_cleaned_copy_is_used_until_more_fixes_are_decided(tmp_path: Path, yolo: Path) -> None:
    # Two projects with the same decisions: one wrote a cleaned copy, the other did not.
    a, b = new_store(tmp_path / "a"), new_store(tmp_path / "b")
    for s in (a, b):
        run_cleanse(s, CleanseOptions(dataset=str(yolo)))
        decide(s, YOLO_VERDICTS)
    apply_fixes(a, tmp_path / "clean", str(yolo), requested_by=HUMAN)
    shutil.copytree(yolo, tmp_path / "pristine")
    ra = build_release(a, ReleaseOptions(license="MIT"), HUMAN)
    rb = build_release(b, ReleaseOptions(license="MIT"), HUMAN)
    da = json.loads((Path(ra.path) / "release.json").read_text())["exporters"][0]["details"]
    assert da["source"]["origin"] == "cleaned" and da["source"]["cleaned_copy_decision"] is not None
    # Same labels whichever way the approved fixes were applied.
    assert label_lines(Path(ra.path)) == label_lines(Path(rb.path))
    # The copy, not the source, is read: damage the source's img1 labels and release again.
    (yolo / "labels/train/img1.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    ra2 = build_release(a, ReleaseOptions(license="MIT"), HUMAN)
    assert label_lines(Path(ra2.path)) == label_lines(Path(ra.path))
    shutil.rmtree(yolo)
    shutil.copytree(tmp_path / "pristine", yolo)
    # A fix approved after the copy: the copy is stale, so the source plus all approved fixes is released.
    tiny = next(p for p in fix_proposals(a) if p.payload["check"] == "tiny_box")
    a.decide(tiny.id or 0, HUMAN, "accept")
    ra3 = build_release(a, ReleaseOptions(license="MIT"), HUMAN)
    d3 = json.loads((Path(ra3.path) / "release.json").read_text())["exporters"][0]["details"]
    assert d3["source"]["origin"] == "fixes" and "predates" in d3["source"]["notes"][0]
    assert d3["source"]["fixes_applied"] == 4
    assert "Note: the cleaned copy of decision" in (Path(ra3.path) / "README.md").read_text()
    img2 = lambda r: next(v for k, v in label_lines(Path(r.path)).items() if k.endswith("img2.txt"))  # noqa: E731
    assert len(img2(ra3)) == len(img2(ra)) - 1
    for s in (a, b):
        s.close()


def _png(width: int, height: int, seed: int) -> bytes:
    """A tiny valid grey PNG whose pixels depend on `seed` (distinct bytes per seed)."""
    raw = b"".join(b"\x00" + bytes((seed * 7 + x + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def make_dataset(root: Path, n: int = 60, dup_pairs: int = 5) -> Path:
    """n images in images/all: class 0 everywhere, class 1 in every 3rd, class 2 (rare) in every 10th.

    The last `dup_pairs` images repeat the bytes (and labels) of the first ones under other names.
    """
    (root / "images/all").mkdir(parents=True)
    (root / "labels/all").mkdir(parents=True)
    for i in range(n):
        src = i - (n - dup_pairs) if i >= n - dup_pairs else i
        (root / f"images/all/im{i:03d}.png").write_bytes(_png(32, 24, src))
        lines = ["0 0.3 0.3 0.2 0.2"]
        if src % 3 == 0:
            lines.append("1 0.7 0.6 0.3 0.4")
        if src % 10 == 0:
            lines.append("2 0.5 0.5 0.1 0.1")
        (root / f"labels/all/im{i:03d}.txt").write_text("\n".join(lines) + "\n")
    (root / "dataset.yaml").write_text("train: images/all\nnames: [car, person, dog]\n")
    return root


def test_splits_are_stratified_leak_free_and_reproducible(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data")
    store = new_store(tmp_path / "proj")
    from studio.ops.release.plugins import exporters_for

    stages: list[tuple[str, int, int]] = []
    progress = lambda stage, done, total: stages.append((stage, done, total))  # noqa: E731
    ex = exporters_for("detection", boxes=str(data), progress=progress)  # an explicit dataset: no cleanse run
    r1 = build_release(store, ReleaseOptions(license="MIT", version="1.0.0"), HUMAN, exporters=ex)
    assert ("detection: hash images", 60, 60) in stages
    f1 = Path(r1.path)
    seen = check_yolo_tree(f1)
    # 55 distinct images (+5 copies of im000-im004): 60 cars; persons in src 0, 3, .., 54 (19) + copies of 0 and 3;
    # dogs in src 0, 10, .., 50 (6) + the copy of 0.
    assert check_coco(f1, seen) == 60 + 21 + 7
    per_split = Counter(seen.values())
    assert per_split == {"train": 48, "val": 6, "test": 6}
    # Exact duplicates (same bytes) share a split.
    for k in range(5):
        assert seen[f"im{k:03d}.png"] == seen[f"im{55 + k:03d}.png"]
    # The rare class reaches every split.
    labels = label_lines(f1)
    rare = Counter(k.split("/")[0] for k, v in labels.items() if any(int(b[0]) == 2 for b in v))
    assert set(rare) == {"train", "val", "test"}
    d = json.loads((f1 / "release.json").read_text())["exporters"][0]["details"]
    assert d["groups"] == 55 and d["duplicate_images"] == 10 and d["source"]["origin"] == "option"
    assert d["classes"][2]["images"] == {"train": rare["train"], "val": rare["val"], "test": rare["test"]}
    # Same state, another version: the detection files are byte-identical.
    r2 = build_release(store, ReleaseOptions(license="MIT", version="1.0.1"), HUMAN, exporters=ex)
    assert tree_hash(f1 / "detection") == tree_hash(Path(r2.path) / "detection")
    # Another seed moves images between splits, keeping the same shape.
    r3 = build_release(store, ReleaseOptions(license="MIT", version="1.0.2", seed=99), HUMAN, exporters=ex)
    seen3 = check_yolo_tree(Path(r3.path))
    assert Counter(seen3.values()) == per_split and seen3 != seen
    consumers_accept(f1)
    store.close()


def test_same_state_in_two_places_gives_identical_releases(tmp_path: Path) -> None:
    releases = []
    for where in ("one", "two"):
        shutil.copytree(BOXES / "yolo", tmp_path / where / "yolo")
        store = new_store(tmp_path / where / "proj")
        run_cleanse(store, CleanseOptions(dataset=str(tmp_path / where / "yolo")))
        decide(store, YOLO_VERDICTS)
        releases.append(tree_hash(Path(build_release(store, ReleaseOptions(license="MIT"), HUMAN).path)))
        store.close()
    assert releases[0] == releases[1] and any(k.startswith("detection/") for k in releases[0])


def test_coco_source(tmp_path: Path) -> None:
    shutil.copytree(BOXES / "coco", tmp_path / "coco")
    store = new_store(tmp_path / "proj")
    run_cleanse(store, CleanseOptions(dataset=str(tmp_path / "coco/annotations.json")))
    decide(store, {("exact_duplicate", (11,)): "accept", ("near_duplicate", (12, 13)): "reject"})
    r = build_release(store, ReleaseOptions(license="MIT"), HUMAN)
    folder = Path(r.path)
    seen = check_yolo_tree(folder)
    check_coco(folder, seen)
    # c1, c2, c3, c6 exist (c6 has no annotations: background); image 4's file is missing, image 5 unnamed.
    assert sorted(seen) == ["c1.png", "c2.png", "c3.png", "c6.png"]
    d = json.loads((folder / "release.json").read_text())["exporters"][0]["details"]
    assert d["left_out"]["images"] == {"image file missing": 1}
    assert [c["name"] for c in d["classes"]] == ["car", "person"] and [c["source_id"] for c in d["classes"]] == [1, 2]
    from pycocotools.coco import COCO

    anns = []
    for split in ("train", "val", "test"):
        p = folder / "detection/coco" / f"{split}.json"
        if p.exists():
            c = COCO(str(p))
            assert sorted(c.getCatIds()) == [1, 2]
            anns += c.loadAnns(c.getAnnIds())
    assert len(anns) == sum(s["boxes"] for s in d["splits"].values())
    src = read_dataset(BOXES / "coco/annotations.json")
    c1_boxes = len(src.image("images/c1.png").boxes)
    got = next(v for k, v in label_lines(folder).items() if k.endswith("c1.txt"))
    assert c1_boxes == 4 and len(got) == 3  # 10, 11 (duplicate: dropped), 12, 13 (near duplicate: rejected, kept)
    store.close()


def test_projects_without_boxes(tmp_path: Path, yolo: Path) -> None:
    text = new_store(tmp_path / "text", task_type="ner")
    text.add_documents([Document(text="A car in Berlin.")])
    r = build_release(text, ReleaseOptions(license="MIT"), HUMAN)
    assert r.extra["exporters"] == [] and not (Path(r.path) / "detection").exists()
    assert "## Detection" not in (Path(r.path) / "README.md").read_text()
    text.close()
    det = new_store(tmp_path / "det")
    with pytest.raises(StudioError, match="no box dataset is known: run `studio cleanse DATASET`"):
        build_release(det, ReleaseOptions(license="MIT"), HUMAN)
    from studio.ops.release.plugins import exporters_for

    with pytest.raises(StudioError, match="no such file or folder"):
        build_release(
            det, ReleaseOptions(license="MIT"), HUMAN, exporters=exporters_for("detection", str(yolo / "nope"))
        )
    assert not det.decisions(action="release.create") and not list((det.root / "releases").iterdir())
    # The cleansed dataset moved away: a clear refusal, nothing written.
    run_cleanse(det, CleanseOptions(dataset=str(yolo)))
    shutil.move(yolo, tmp_path / "moved")
    with pytest.raises(StudioError, match="is gone: restore it, or pass `--boxes PATH`"):
        build_release(det, ReleaseOptions(license="MIT"), HUMAN)
    det.close()


def test_cli_release_with_boxes(tmp_path: Path, yolo: Path) -> None:
    store = new_store(tmp_path / "proj")
    store.close()
    code, out, err = run_cli(
        "--project", str(tmp_path / "proj"), "release", "--license", "MIT", "--boxes", str(yolo), "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["extra"]["exporter_counts"]["detection"]["images"] == 4
    assert "detection/yolo/dataset.yaml" in res["files"]
    code, out, err = run_cli(
        "--project", str(tmp_path / "proj"), "release", "--license", "MIT", "--boxes", str(tmp_path / "none")
    )
    assert code != 0 and "no such file or folder" in err and "Traceback" not in err


def test_file_names_stay_unique_in_flat_split_folders(tmp_path: Path) -> None:
    from studio.ops.boxes.model import ImageLabels
    from studio.ops.release.detection import _file_names

    ims = [ImageLabels(name=n, path=str(tmp_path / n)) for n in ("a/x.png", "b/x.jpg", "c/y.png", "a__x.png")]
    got = _file_names(ims)
    assert got["c/y.png"] == "y.png"
    assert len({Path(v).stem.lower() for v in got.values()}) == 4  # label files are named by stem
    assert got["a/x.png"] == "a__x.png" and got["a__x.png"] == "a__x_2.png" and got["b/x.jpg"] == "b__x.jpg"
