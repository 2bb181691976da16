"""Any lab's labelled data with the CLI's defaults: train 7 minutes, predict, evaluate.

    python benchmarks/any_lab_data.py [--python PY] [--src SRC] [--minutes 7]
        [--datasets reaching fly32 clip] [--name NAME] [--out JSON] [--table]

Runs exactly what a user types, with no flag but the time limit (and ``--val`` where the
code under test has it), on three labelled sets written as users have them:

* **reaching** (``/work/shared/data/reaching``, DeepLabCut's mouse, labelled PNGs and a
  CSV, no video): by image order the first 70 % train, the next 10 % validate (``--val``),
  the last 20 % test; each split a ``.pkg.slp`` with its images embedded.
* **fly32** (bundled DeepPoseKit crops): crops 0-79 train, 80-99 test, each a
  ``.pkg.slp`` with embedded images (validation is ``train``'s own split).
* **clip** (bundled two-fly clip): 50 labelled frames spread over frames 0-999 (as
  ``napari-leap demo``), both flies, against all of frames 1000-1499; ``.slp`` files that
  refer to the video, as SLEAP writes them.
* **clip_slip** (not run by default): the clip's split with one slip of the mouse, frame
  510's female head clicked on the male's thorax, as a person labelling 1,300 points
  makes now and then.

For each: ``napari-leap train TRAIN --out M --time-limit MIN [--val VAL]``, ``napari-leap
predict M TEST --out P.slp``, ``napari-leap evaluate TEST P.slp --json``, run with
``--python`` and ``PYTHONPATH=--src`` (so a checkout of other code, e.g. a worktree at
a81db77, runs side by side with this one). A command that fails is recorded with its
error text, as the result a user gets. Writes ``any_lab_data.json`` (one entry per
``--name``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REACHING = Path("/work/shared/data/reaching/CollectedData_Mackenzie.csv")
DATASETS = ("reaching", "fly32", "clip")
EXTRA = ("clip_slip",)


# -- the splits, as users have them ------------------------------------------------------
def _labels(frames, like):
    import sleap_io as sio

    return sio.Labels(
        labeled_frames=list(frames),
        videos=like.videos,
        skeletons=like.skeletons,
        tracks=like.tracks,
    )


def _save(labels, path: Path, embed: bool) -> Path:
    import sleap_io as sio

    sio.save_slp(labels, str(path), embed=embed, verbose=False)
    return path


def split_reaching(work: Path) -> dict:
    """First 70 % / next 10 % / last 20 % of the images by order, embedded."""
    import sleap_io as sio

    labels = sio.load_file(str(REACHING), format="dlc")
    lfs = sorted(labels.labeled_frames, key=lambda lf: lf.frame_idx)
    n = len(lfs)
    a, b = round(0.7 * n), round(0.8 * n)
    return {
        "train": _save(_labels(lfs[:a], labels), work / "reaching_train.pkg.slp", True),
        "val": _save(_labels(lfs[a:b], labels), work / "reaching_val.pkg.slp", True),
        "test": _save(_labels(lfs[b:], labels), work / "reaching_test.pkg.slp", True),
        "counts": [a, b - a, n - b],
    }


def split_fly32(work: Path, src: Path) -> dict:
    """Crops 0-79 / 80-99 of the bundled box file as embedded-image packages."""
    import h5py
    import sleap_io as sio
    from PIL import Image

    from napari_leap.io.labels import skeleton_to_sleap
    from napari_leap.io.skeleton_files import load_skeleton

    folder = src / "napari_leap" / "sample_data" / "fly32"
    with h5py.File(folder / "example_annotation_set.h5", "r") as f:
        images, points = f["images"][:], f["annotations"][:].astype(np.float64)
    # the bundled table's pairs as the box loader reads them (one upstream slip dropped)
    skeleton = skeleton_to_sleap(load_skeleton(folder / "skeleton.csv"))
    pngs = work / "fly32_png"
    pngs.mkdir(exist_ok=True)
    files = []
    for i, img in enumerate(images):
        files.append(str(pngs / f"crop{i:03d}.png"))
        Image.fromarray(img[..., 0]).save(files[-1])
    video = sio.Video(filename=files)
    lfs = [
        sio.LabeledFrame(
            video=video, frame_idx=i, instances=[sio.Instance.from_numpy(points[i], skeleton)]
        )
        for i in range(len(images))
    ]
    labels = sio.Labels(labeled_frames=lfs, videos=[video], skeletons=[skeleton])
    return {
        "train": _save(_labels(lfs[:80], labels), work / "fly32_train.pkg.slp", True),
        "test": _save(_labels(lfs[80:], labels), work / "fly32_test.pkg.slp", True),
        "counts": [80, 0, 20],
    }


def split_clip(work: Path, src: Path) -> dict:
    """50 frames spread over 0-999 (both flies) / every frame of 1000-1499, with the video."""
    import sleap_io as sio

    folder = src / "napari_leap" / "sample_data" / "flies13"
    labels = sio.load_slp(str(folder / "clip.slp"))
    labels.replace_filenames(new_filenames=[str((folder / "clip.mp4").resolve())])
    chosen = set(np.linspace(0, 999, 50).round().astype(int).tolist())  # as `napari-leap demo`
    train = [lf for lf in labels.labeled_frames if lf.frame_idx in chosen]
    test = [lf for lf in labels.labeled_frames if lf.frame_idx >= 1000]
    return {
        "train": _save(_labels(train, labels), work / "clip_train.slp", False),
        "test": _save(_labels(test, labels), work / "clip_test.slp", False),
        "counts": [len(train), 0, len(test)],
    }


def split_clip_slip(work: Path, src: Path) -> dict:
    """The clip's split, with frame 510's female head placed on the male's thorax."""
    import sleap_io as sio

    split = split_clip(work, src)
    labels = sio.load_slp(str(split["train"]))
    names = labels.skeletons[0].node_names
    frame = next(lf for lf in labels.labeled_frames if lf.frame_idx == 510)
    female, male = sorted(frame.instances, key=lambda i: i.track.name)
    female.points["xy"][names.index("head")] = male.numpy()[names.index("thorax")]
    split["train"] = _save(labels, work / "clip_train_slip.slp", False)
    return split


def splitters(src: Path) -> dict:
    """Data set name -> ``split(work folder)`` writing its train/val/test files there."""
    return {
        "reaching": split_reaching,
        "fly32": lambda w: split_fly32(w, src),
        "clip": lambda w: split_clip(w, src),
        "clip_slip": lambda w: split_clip_slip(w, src),
    }


# -- running the CLI of the code under test -----------------------------------------------
def cli(python: str, src: Path, *args: str, timeout: float) -> dict:
    """One ``napari-leap`` command: exit code, seconds, stdout and the last stderr lines."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.monotonic()
    try:
        r = subprocess.run(
            [python, "-m", "napari_leap.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or "", f"killed after {timeout:.0f} s"
    lines = [ln for ln in str(err).replace("\r", "\n").splitlines() if ln.strip()]
    return {
        "rc": rc,
        "seconds": round(time.monotonic() - t0, 1),
        "stdout": str(out),
        "stderr_tail": lines[-12:],
        "messages": [ln for ln in lines if ln.startswith("napari-leap")][:20],
    }


def error_text(run: dict) -> str:
    """What the user was told: the CLI's one-line error, else the traceback's last line."""
    for ln in reversed(run["stderr_tail"]):
        if "error" in ln.lower():
            return ln.strip()
    return run["stderr_tail"][-1].strip() if run["stderr_tail"] else f"exit {run['rc']}"


def has_val(python: str, src: Path) -> bool:
    r = cli(python, src, "train", "--help", timeout=120)
    return "--val" in r["stdout"]


def run_dataset(name, split, python, src, minutes, work) -> dict:
    model, pred = work / f"{name}_model", work / f"{name}_pred.slp"
    args = ["train", str(split["train"]), "--out", str(model), "--time-limit", f"{minutes:g}"]
    if split.get("val") and has_val(python, src):
        args += ["--val", str(split["val"])]
    entry = {
        "counts": split["counts"],
        "train_command": " ".join(["napari-leap", *args[0:1], *args[1:]]),
    }
    entry["train"] = train = cli(python, src, *args, timeout=minutes * 60 + 600)
    if train["rc"] != 0 or not (model / "best.pt").exists():
        entry["error"] = error_text(train)
        return entry
    cfg = json.loads((model / "config.json").read_text())
    tr = cfg.get("training", {})
    entry.update(
        train_seconds=tr.get("seconds"),
        input_scale=cfg.get("input_scale"),
        batch_size=tr.get("batch_size"),
        epochs=tr.get("epochs_done"),
        # code from before steps were counted: whole epochs' worth (upper bound)
        steps=tr.get("steps_done", (tr.get("epochs_done") or 0) * tr.get("steps_per_epoch", 0)),
        steps_counted="steps_done" in tr,
        aligned=cfg.get("alignment") is not None,
    )
    entry["predict"] = p = cli(
        python, src, "predict", str(model), str(split["test"]), "--out", str(pred), timeout=3600
    )
    entry["warnings"] = [ln for ln in p["stderr_tail"] if "warning" in ln]
    if p["rc"] != 0:
        entry["error"] = error_text(p)
        return entry
    ev = cli(python, src, "evaluate", str(split["test"]), str(pred), "--json", timeout=600)
    if ev["rc"] != 0:
        entry["error"] = error_text(ev)
        return entry
    figures = json.loads(ev["stdout"].strip().splitlines()[-1])
    entry.update(
        {k: figures[k] for k in ("median_px", "p95_px", "mean_px", "n_points", "n_missing")}
    )
    entry["per_node_median_px"] = {k: v["median_px"] for k, v in figures["per_node"].items()}
    return entry


def _num(r: dict, key: str, fmt: str = "{:.2f}") -> str:
    v = r.get(key)
    return fmt.format(v) if isinstance(v, (int, float)) and v is not None else "-"


def table(results: dict) -> str:
    """One row per code and data set: the figures and what the user got."""
    lines = [
        "| code | data | train / val / test | median px | p95 px | missing points | train s "
        "| steps | scale | batch | what the user got |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for code, entry in results.items():
        for name, r in entry.get("datasets", {}).items():
            missing = f"{r['n_missing']} of {r['n_points']}" if "n_points" in r else "-"
            steps = _num(r, "steps", "{:d}")
            if not r.get("steps_counted", True):
                steps += " (epochs' worth)"
            got = r.get("error", "a model and predictions")
            if r.get("warnings"):
                got += "; " + " / ".join(r["warnings"])
            lines.append(
                f"| {code} ({entry.get('minutes')} min) | {name} | "
                f"{' / '.join(map(str, r['counts']))} | {_num(r, 'median_px')} | "
                f"{_num(r, 'p95_px')} | {missing} | {_num(r, 'train_seconds', '{:.0f}')} | {steps} "
                f"| {_num(r, 'input_scale', '{:.3g}')} | {_num(r, 'batch_size', '{:d}')} | {got} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter of the code under test"
    )
    parser.add_argument("--src", default=str(REPO / "src"), help="its src folder (PYTHONPATH)")
    parser.add_argument("--minutes", type=float, default=7.0, help="--time-limit of each training")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS + EXTRA)
    parser.add_argument(
        "--name", default=None, help="key of this run in the JSON (default: --src's commit)"
    )
    parser.add_argument(
        "--work", default=None, help="folder for splits, models, predictions (default: temporary)"
    )
    parser.add_argument("--out", default=str(HERE / "any_lab_data.json"))
    parser.add_argument("--table", action="store_true", help="print the JSON's table and exit")
    args = parser.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.table:
        print(table(results))
        return
    src = Path(args.src).resolve()
    commit = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    name = args.name or commit or str(src)
    work = Path(args.work or tempfile.mkdtemp(prefix="any-lab-data-"))
    work.mkdir(parents=True, exist_ok=True)
    entry = results.setdefault(name, {})
    entry.update(
        src=str(src),
        commit=commit,
        python=args.python,
        minutes=args.minutes,
        load_before=os.getloadavg()[0],
    )
    entry.setdefault("datasets", {})
    split = splitters(src)
    from napari_leap.io.atomic import atomic_write_text

    for ds in args.datasets:
        d = work / ds
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        r = run_dataset(ds, split[ds](d), args.python, src, args.minutes, d)
        entry["datasets"][ds] = r
        print(
            f"{name} {ds}: "
            + (
                f"median {r['median_px']:.2f} px, p95 {r['p95_px']:.2f} px, {r['n_missing']} of "
                f"{r['n_points']} points missing, {r['train_seconds']} s, {r['steps']} steps"
                if "median_px" in r
                else f"no result: {r['error']}"
            ),
            flush=True,
        )
        atomic_write_text(out, json.dumps(results, indent=2))
    print(table({name: entry}))


if __name__ == "__main__":
    main()
