"""Readers and writers: YOLO and COCO fixtures read exactly, malformed input reported and skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.ops.boxes import read_dataset, write_coco, write_yolo
from studio.ops.boxes.imagesize import image_size
from tests.conftest import FIXTURES

BOXES = FIXTURES / "boxes"


def test_image_size_from_headers(tmp_path: Path) -> None:
    assert image_size(BOXES / "yolo/images/train/img1.png") == (100, 50)
    assert image_size(BOXES / "yolo/images/val/img3.jpg") == (80, 60)
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    assert image_size(tmp_path / "bad.png") is None
    assert image_size(tmp_path / "missing.png") is None


def test_read_yolo_fixture() -> None:
    ds = read_dataset(BOXES / "yolo")
    assert ds.format == "yolo" and ds.names == {0: "car", 1: "person", 2: "dog"}
    assert Path(ds.source).name == "dataset.yaml"
    by = {im.name: im for im in ds.images}
    assert sorted(by) == [
        "images/train/img1.png",
        "images/train/img2.png",
        "images/train/img4.png",
        "images/val/img3.jpg",
    ]
    img2 = by["images/train/img2.png"]
    assert (img2.width, img2.height, img2.split) == (100, 50, "train")
    assert img2.lines == [1, 2, 3, 4, 5, 8, 9, 10]  # malformed lines 6, 7, 11 skipped
    assert img2.boxes[0].cx != img2.boxes[0].cx  # NaN kept for the validity check
    assert by["images/val/img3.jpg"].width == 80 and by["images/val/img3.jpg"].split == "val"
    assert by["images/train/img4.png"].label_file is None
    assert ds.orphan_labels == ["labels/train/orphan.txt"]
    assert [str(p) for p in ds.problems] == [
        "labels/train/img2.txt:6: expected 5 values `class cx cy w h`, got 4",
        "labels/train/img2.txt:7: class id 'x' is not a number",
        "labels/train/img2.txt:11: class id '1.5' is not an integer",
    ]


def test_read_coco_fixture() -> None:
    ds = read_dataset(BOXES / "coco/annotations.json")
    assert ds.format == "coco" and ds.names == {1: "car", 2: "person"}
    by = {im.name: im for im in ds.images}
    assert by["images/c1.png"].lines == [10, 11, 12, 13]
    assert by["images/c2.png"].lines == [14, 15, 16, 21]
    assert (by["images/c3.png"].width, by["images/c3.png"].height) == (80, 60)  # from the PNG header
    assert by["images/c3.png"].lines == [19]
    assert by["images/missing.png"].exists is False and by["images/missing.png"].lines == []
    b = by["images/c1.png"].boxes[0]  # bbox [40, 20, 20, 10] in a 100x50 image
    assert (b.class_id, b.cx, b.cy, b.w, b.h) == (1, 0.5, 0.5, 0.2, 0.2)
    assert [str(p) for p in ds.problems] == [
        "annotations.json (image 5): image without a file_name",
        'annotations.json (annotation 17): bbox values are not all numbers: [10, 10, "a", 5]',
        "annotations.json (annotation 18): image_id 99 is not in images",
        "annotations.json (annotation 11): duplicate annotation id; kept the first",
        "annotations.json (image 4): no width/height and the image file was not found; its annotations were skipped",
        "annotations.json (annotations[13]): annotation without an integer id",
    ]


def test_yaml_names_as_list_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    (root / "dataset.yaml").write_text("train: images/train\nnames: [car, person, dog]\n")
    ds = read_dataset(root / "dataset.yaml")
    assert ds.names == {0: "car", 1: "person", 2: "dog"} and len(ds.images) == 3
    (root / "dataset.yaml").write_text("train: images/train\n")
    with pytest.raises(StudioError, match="no `names`"):
        read_dataset(root)
    (root / "dataset.yaml").write_text("names: [a]\ntrain: [unclosed\n")
    with pytest.raises(StudioError, match="not a readable yaml"):
        read_dataset(root)
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [1, 2,,]}')
    with pytest.raises(StudioError, match=r"bad.json:1: not valid JSON"):
        read_dataset(bad)


def test_folder_without_yaml_uses_classes_txt(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(BOXES / "yolo", root)
    (root / "dataset.yaml").unlink()
    ds = read_dataset(root)
    assert ds.names == {} and not ds.names_known
    (root / "classes.txt").write_text("car\nperson\ndog\n")
    ds = read_dataset(root)
    assert ds.names == {0: "car", 1: "person", 2: "dog"} and ds.names_known
    assert {im.split for im in ds.images} == {"train", "val"}


def test_write_yolo_and_coco_round_trip(tmp_path: Path) -> None:
    ds = read_dataset(BOXES / "coco/annotations.json")
    ds.images = [im for im in ds.images if im.exists]
    for im in ds.images:  # drop the planted invalid boxes so the round trip compares clean data
        keep = [k for k, b in enumerate(im.boxes) if b.class_id in ds.names and b.w > 0]
        im.boxes, im.lines = [im.boxes[k] for k in keep], [im.lines[k] for k in keep]
    yaml_path = write_yolo(ds, tmp_path / "y")
    back = read_dataset(yaml_path)
    assert back.names == {0: "car", 1: "person"}  # COCO ids 1, 2 renumbered for YOLO
    assert back.box_count() == ds.box_count() and not back.problems
    a = {Path(im.name).name: [(b.class_id, round(b.cx, 5), round(b.w, 5)) for b in im.boxes] for im in ds.images}
    b = {Path(im.name).name: [(b.class_id + 1, round(b.cx, 5), round(b.w, 5)) for b in im.boxes] for im in back.images}
    assert a == b
    out = write_coco(back, tmp_path / "c" / "ann.json")
    data = json.loads(out.read_text())
    assert len(data["annotations"]) == ds.box_count()
    assert data["categories"] == [{"id": 0, "name": "car"}, {"id": 1, "name": "person"}]
    with pytest.raises(StudioError, match="not empty"):
        write_yolo(ds, tmp_path / "y")
