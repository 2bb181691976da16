"""Alignment throughput vs a plain sequential decode, and accuracy on the real two-fly clip.

    python benchmarks/align.py [--repeats 3] [VIDEO]

Prints, for the clip (or VIDEO): plain sequential decode frames/s (PyAV through
the project's frame source, every frame to a numpy array) and whole-alignment
frames/s (background sampling, detection, identities, headings), medians of
``--repeats`` runs interleaved so both see the same machine load; their ratio;
and, on the bundled clip, the heading / centre / identity figures against its
labels. Writes ``align.json`` next to this file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def decode_all(path) -> float:
    from napari_leap.io.video import video_source

    src = video_source(path)
    t = time.perf_counter()
    for i in range(len(src)):
        src.read(i)
    dt = time.perf_counter() - t
    src.close()
    return len(src) / dt


def align_all(path, n_animals):
    from napari_leap.align.alignment import align

    t = time.perf_counter()
    al = align(path, n_animals)
    dt = time.perf_counter() - t
    return al.n_frames / dt, al


def clip_accuracy(al) -> dict:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_align_clip import clip_figures, clip_labels

    _, pts = clip_labels()
    herr, cerr, idx = clip_figures(al, pts)
    return {
        "heading_error_median_deg": float(np.median(herr)),
        "heading_error_p95_deg": float(np.percentile(herr, 95)),
        "heading_error_max_deg": float(np.max(herr)),
        "flips_percent": float(100 * np.mean(herr > 90)),
        "centre_error_median_px": float(np.median(cerr)),
        "centre_error_p95_px": float(np.percentile(cerr, 95)),
        "identity_swaps": int(sum(len(set(idx[:, a][idx[:, a] >= 0])) - 1 for a in range(2))),
        "labelled_animal_frames": len(herr),
        "flagged_animal_frames": len(al.flagged()),
    }


def main(argv=None) -> int:
    import napari_leap

    clip = Path(napari_leap.__file__).parent / "sample_data" / "flies13" / "clip.mp4"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", nargs="?", default=str(clip))
    p.add_argument("--animals", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    decode, aligned = [], []
    al = None
    for r in range(args.repeats):
        decode.append(decode_all(args.video))
        fps, al = align_all(args.video, args.animals)
        aligned.append(fps)
        print(
            f"repeat {r + 1}: decode {decode[-1]:.0f} frames/s, align {aligned[-1]:.0f} frames/s",
            flush=True,
        )
    result = {
        "video": str(args.video),
        "frames": al.n_frames,
        "animals": al.n_animals,
        "box_size": al.box_size,
        "options": al.options,
        "decode_fps_median": float(np.median(decode)),
        "align_fps_median": float(np.median(aligned)),
        "ratio": float(np.median(aligned) / np.median(decode)),
        "repeats": args.repeats,
    }
    print(f"plain sequential decode: {result['decode_fps_median']:.0f} frames/s (median)")
    print(
        f"alignment:               {result['align_fps_median']:.0f} frames/s (median), "
        f"{100 * result['ratio']:.0f}% of decode"
    )
    if Path(args.video).resolve() == clip.resolve():
        acc = clip_accuracy(al)
        result.update(acc)
        print(
            f"heading error: median {acc['heading_error_median_deg']:.2f} deg, "
            f"p95 {acc['heading_error_p95_deg']:.1f}, max {acc['heading_error_max_deg']:.1f}; "
            f"flips (>90 deg) {acc['flips_percent']:.2f}% of "
            f"{acc['labelled_animal_frames']} animal-frames"
        )
        print(
            f"centre to thorax: median {acc['centre_error_median_px']:.2f} px, "
            f"p95 {acc['centre_error_p95_px']:.1f} px; identity swaps {acc['identity_swaps']}; "
            f"flagged animal-frames {acc['flagged_animal_frames']}"
        )
    (HERE / "align.json").write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
