"""Benchmark the box checks: 10k synthetic images x 100 boxes (1M boxes).

Prints times and ratios measured in this run:
- all rule-based checks (grid-pruned pair search) on 1M boxes, and building the findings;
- a per-pair pure-Python IoU loop, timed on a subset of images and extrapolated (said so);
- brute-force vectorized numpy IoU (every pair of every image, batched) vs the pruned search;
- ultralytics `box_iou` (torch) and torchvision `box_iou`, where they load, on all pairs of every
  image, image by image, next to numpy's `iou_matrix` doing the same, and next to the pruned search.

Augmentation (`--augment N`): N source JPEGs (640x480, 3 common + 1 thin box each) grown by
`augment_dataset`, wall and CPU seconds and images/s, next to two baselines measured in the same run:
a plain file copy of the same images, and decode + encode with no transform (the I/O floor).

Run: python bench/bench_boxes.py [--images 10000] [--per-image 100] [--augment 1000 [--skip-checks]]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from studio.ops.boxes.checks import BoxArrays, find_issues, findings_from_issues
from studio.ops.boxes.iou import brute_force_pairs, canonical, cxcywh_to_xyxy, iou_matrix, overlapping_pairs
from studio.ops.boxes.model import BoxDataset, CheckSettings, ImageLabels
from studio.schema import Box


def synth(n_img: int, per: int, seed: int = 0) -> BoxArrays:
    rng = np.random.default_rng(seed)
    n = n_img * per
    image = np.repeat(np.arange(n_img), per)
    index = np.tile(np.arange(per), n_img)
    cls = rng.integers(0, 10, n)
    wh = rng.uniform(0.02, 0.25, (n, 2))
    c = np.c_[rng.uniform(wh / 2, 1 - wh / 2), wh]  # inside the image
    # Plant issues: 1% exact duplicates, 1% near duplicates, 0.5% class conflicts, a few invalid.
    k = n // 100
    src = rng.choice(n, 3 * k, replace=False)
    dst = src + 1
    ok = (dst % per) != 0
    src, dst = src[ok], dst[ok]
    a, b, d = src[:k], src[k : 2 * k], src[2 * k :]
    ad, bd, dd = dst[:k], dst[k : 2 * k], dst[2 * k :]
    c[ad], cls[ad] = c[a], cls[a]
    c[bd], cls[bd] = c[b] * (1 + rng.normal(0, 0.02, (len(b), 4))), cls[b]
    c[dd], cls[dd] = c[d], (cls[d] + 1) % 10
    c[rng.choice(n, 100, replace=False), 0] = np.nan
    c[rng.choice(n, 100, replace=False), 2] = 0.0
    c[rng.choice(n, 100, replace=False), 0] += 0.2  # overhang the right edge
    size = np.full(n, 640.0)
    return BoxArrays(image, index, cls, c, size, size)


def as_dataset(arr: BoxArrays, n_img: int, per: int) -> BoxDataset:
    """A BoxDataset over the same boxes, built without validation (only findings need it)."""
    images = []
    for i in range(n_img):
        sl = slice(i * per, (i + 1) * per)
        boxes = [
            Box.model_construct(class_id=int(k), cx=float(x), cy=float(y), w=float(w), h=float(h))
            for k, (x, y, w, h) in zip(arr.cls[sl], arr.cxcywh[sl], strict=True)
        ]
        images.append(
            ImageLabels.model_construct(
                name=f"img{i}.jpg", path="", width=640, height=640, split="", boxes=boxes,
                lines=list(range(1, per + 1)), label_file=f"img{i}.txt", image_id=None, exists=True,
            )
        )  # fmt: skip
    return BoxDataset.model_construct(
        format="yolo", source="synthetic", root="", names={i: f"c{i}" for i in range(10)}, names_known=True,
        images=images, orphan_labels=[], problems=[],
    )  # fmt: skip


def python_pairs(xyxy: list[tuple[float, float, float, float]], t: float) -> int:
    """The loop a first version would write: every pair, IoU in pure Python."""
    hits = 0
    for i in range(len(xyxy)):
        ax1, ay1, ax2, ay2 = xyxy[i]
        for j in range(i + 1, len(xyxy)):
            bx1, by1, bx2, by2 = xyxy[j]
            iw = min(ax2, bx2) - max(ax1, bx1)
            ih = min(ay2, by2) - max(ay1, by1)
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
            if union > 0 and inter / union >= t:
                hits += 1
    return hits


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def python_pairs_calls(xyxy: list[tuple[float, float, float, float]], t: float) -> int:
    """The same loop written the usual way: an iou() function called for every pair."""
    return sum(1 for i in range(len(xyxy)) for j in range(i + 1, len(xyxy)) if iou(xyxy[i], xyxy[j]) >= t)


def timed(fn, *args, repeat: int = 1):  # type: ignore[no-untyped-def]
    """Best CPU time of `repeat` runs (the median goes to TIMES, printed next to it).

    CPU time (time.process_time), not wall time: the dev box is shared, and other jobs stretch
    wall time unevenly between a 1-second and a 50-second measurement. Everything timed here runs
    on one thread (torch is set to one thread too), so CPU time is the work done.
    """
    runs = []
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn(*args)
        runs.append(time.process_time() - t0)
    TIMES[id(out)] = sorted(runs)
    return out, min(runs)


TIMES: dict[int, list[float]] = {}


def spread(out: object) -> str:
    runs = TIMES.get(id(out), [])
    return f"median {runs[len(runs) // 2]:.3f}, {len(runs)} runs" if runs else ""


def make_jpegs(root: Path, n: int, seed: int = 0) -> BoxDataset:
    """N 640x480 JPEGs with 3 `car` blocks and 1 `bike` block each (bike is the thin class)."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images/train").mkdir(parents=True)
    (root / "labels/train").mkdir(parents=True)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for i in range(n):
        img = np.roll(base, i * 7, axis=1).copy()
        lines = []
        for k in range(4):
            w, h = int(rng.integers(40, 120)), int(rng.integers(40, 100))
            x, y = 20 + k * 150, int(rng.integers(10, 470 - h))
            img[y : y + h, x : x + w] = (255, 255, 255) if k == 3 else (40, 40, 160)
            lines.append(
                f"{1 if k == 3 else 0} {(x + w / 2) / 640:.6f} {(y + h / 2) / 480:.6f} {w / 640:.6f} {h / 480:.6f}"
            )
        cv2.imwrite(str(root / f"images/train/{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (root / f"labels/train/{i:05d}.txt").write_text("\n".join(lines) + "\n")
    (root / "dataset.yaml").write_text("path: .\ntrain: images/train\nnames: [car, bike]\n")
    from studio.ops.boxes import read_dataset

    return read_dataset(root)


def wall_cpu(fn):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_augment(n: int) -> None:
    import cv2

    from studio.ops.boxes.augment import augment_dataset

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ds = make_jpegs(root / "src", n)
        print(f"\naugmentation: {n} source JPEGs 640x480, 4 boxes each; wall s (CPU s)")

        def copy() -> int:
            (root / "copy").mkdir()
            for im in ds.images:
                shutil.copy(im.path, root / "copy" / Path(im.path).name)
            return n

        def recode() -> int:
            (root / "recode").mkdir()
            for im in ds.images:
                cv2.imwrite(
                    str(root / "recode" / Path(im.path).name), cv2.imread(im.path), [cv2.IMWRITE_JPEG_QUALITY, 95]
                )
            return n

        rows = []
        _, w, c = wall_cpu(copy)
        rows.append(("plain file copy (baseline)", n, w, c))
        _, w, c = wall_cpu(recode)
        rows.append(("decode + encode, no transform (baseline)", n, w, c))
        made, w, c = wall_cpu(lambda: augment_dataset(ds, [1], root / "a1", per_image=1, seed=1, copy_paste=False)[0])
        rows.append(("augment: transforms, 1 per image", len(made), w, c))
        half = ds.model_copy(update={"images": ds.images[: n // 2]})
        made, w, c = wall_cpu(lambda: augment_dataset(half, [1], root / "a2", per_image=2, seed=1)[0])
        rows.append((f"augment: transform + copy-paste, 2 per image of {n // 2}", len(made), w, c))
        floor = rows[1][2]
        for name, k, w, c in rows:
            print(
                f"  {name:52s} {k:5d} images {w:7.2f} s ({c:6.2f})  {k / w:7.1f} images/s  x{w / floor:.2f} of decode+encode"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--per-image", type=int, default=100)
    ap.add_argument("--python-subset", type=int, default=100, help="images timed in the pure-Python loop")
    ap.add_argument("--augment", type=int, default=0, help="also time augmenting this many source images")
    ap.add_argument("--skip-checks", action="store_true", help="time only the augmentation")
    args = ap.parse_args()
    if args.skip_checks:
        bench_augment(args.augment or 1000)
        return
    n_img, per = args.images, args.per_image
    settings = CheckSettings()
    arr = synth(n_img, per)
    n = len(arr.cls)
    print(f"{n_img} images x {per} boxes = {n:,} boxes; CPU seconds, best of several runs (median shown)")

    issues, t_checks = timed(find_issues, arr, settings, set(range(10)), repeat=7)
    print(f"all checks (arrays):            {t_checks:8.3f} s   ({issues.count():,} issues; {spread(issues)})")
    ds = as_dataset(arr, n_img, per)
    findings, t_find = timed(findings_from_issues, ds, arr, issues, settings, repeat=3)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.check] = counts.get(f.check, 0) + 1
    print(f"  + findings with evidence:     {t_find:8.3f} s   ({spread(findings)}) {dict(sorted(counts.items()))}")

    c = arr.cxcywh
    good = np.flatnonzero(np.isfinite(c).all(axis=1) & (c[:, 2] > 0) & (c[:, 3] > 0))
    xyxy, img = cxcywh_to_xyxy(c[good]), arr.image[good]
    t = min(settings.iou_dup, settings.iou_near, settings.iou_conflict)
    pruned, t_pruned = timed(overlapping_pairs, xyxy, img, t, repeat=7)
    brute, t_brute = timed(brute_force_pairs, xyxy, img, t, repeat=3)
    same = all(np.array_equal(x, y) for x, y in zip(canonical(*pruned), canonical(*brute), strict=True))
    print(
        f"pair search, grid-pruned:       {t_pruned:8.3f} s   ({len(pruned[0]):,} pairs with IoU >= {t}; {spread(pruned)})"
    )
    print(f"pair search, numpy brute force: {t_brute:8.3f} s   (same pairs and IoU: {same}; {spread(brute)})")

    sub = args.python_subset
    boxes = [tuple(map(float, r)) for r in cxcywh_to_xyxy(c[: sub * per])]
    t0 = time.process_time()
    for i in range(sub):
        python_pairs(boxes[i * per : (i + 1) * per], t)  # type: ignore[arg-type]
    t_py = (time.process_time() - t0) * n_img / sub
    t0 = time.process_time()
    for i in range(sub):
        python_pairs_calls(boxes[i * per : (i + 1) * per], t)  # type: ignore[arg-type]
    t_py_calls = (time.process_time() - t0) * n_img / sub
    print(f"pure-Python pair loop, inline:  {t_py:8.3f} s   (EXTRAPOLATED from {sub} images)")
    print(f"pure-Python, iou() per pair:    {t_py_calls:8.3f} s   (EXTRAPOLATED from {sub} images)")

    # All pairs of every image, image by image: numpy vs torch implementations of the same work.
    groups = np.split(xyxy, np.flatnonzero(np.diff(img)) + 1)  # img is sorted
    _, t_np_loop = timed(lambda: [iou_matrix(g, g) for g in groups], repeat=2)
    torch_rows = []
    try:
        import torch

        torch.set_num_threads(1)
        tg = [torch.from_numpy(g).float() for g in groups]
        try:
            from ultralytics.utils.metrics import box_iou as ul_box_iou

            _, tt = timed(lambda: [ul_box_iou(g, g) for g in tg], repeat=2)
            torch_rows.append(("ultralytics box_iou", tt))
        except Exception as exc:  # any import failure means "not available here"
            print(f"ultralytics box_iou: not available ({type(exc).__name__})")
        try:
            from torchvision.ops import box_iou as tv_box_iou

            _, tt = timed(lambda: [tv_box_iou(g, g) for g in tg], repeat=2)
            torch_rows.append(("torchvision box_iou", tt))
        except Exception as exc:
            print(f"torchvision box_iou: not available ({type(exc).__name__}: {str(exc)[:60]})")
    except ImportError:
        print("torch not installed: no torch comparison")
    print(f"per-image all-pairs IoU on {len(groups)} images: numpy iou_matrix {t_np_loop:.3f} s")
    for name, tt in torch_rows:
        print(f"  {name:22s} {tt:.3f} s   torch time / numpy time = {tt / t_np_loop:.2f}")

    print("\nratios (higher = ours faster)")
    print(f"  pure-Python inline loop (extrap.) / all checks: {t_py / t_checks:8.1f}x")
    print(f"  pure-Python iou() per pair (extrap.) / checks:  {t_py_calls / t_checks:8.1f}x")
    print(f"  brute-force numpy / pruned pair search:         {t_brute / t_pruned:8.1f}x")
    print(f"  brute-force numpy / all checks:                 {t_brute / t_checks:8.1f}x")
    for name, tt in torch_rows:
        print(f"  {name} per image / pruned pair search: {tt / t_pruned:8.1f}x")
    if args.augment:
        bench_augment(args.augment)


if __name__ == "__main__":
    main()
