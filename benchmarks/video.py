"""Video reading speed and memory on the bundled clip.

Prints: median latency of a random frame read, sequential frames/s of our reader
versus a plain sequential OpenCV decode of the same file (side by side, several
rounds, medians), and the peak memory of a process that opens the video.

    python benchmarks/video.py [VIDEO]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from napari_leap.napari.sample_data import CLIP


def random_latency(path: Path, n: int = 40) -> float:
    from napari_leap import open_video

    video = open_video(path)
    rng = np.random.default_rng(0)
    times = []
    for i in rng.integers(0, video.shape[0], n):
        t = time.perf_counter()
        video[int(i)].compute()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ours_sequential(path: Path, n: int) -> tuple[float, float]:
    """(frames/s through the dask array, as napari reads it; through the FrameSource, as the
    aligner and predictor read it)."""
    from napari_leap import open_video
    from napari_leap.io.video import source_of

    video = open_video(path)
    t = time.perf_counter()
    for i in range(n):
        video[i].compute()
    through_dask = n / (time.perf_counter() - t)
    source = source_of(open_video(path))
    t = time.perf_counter()
    for i in range(n):
        source.read(i)
    return through_dask, n / (time.perf_counter() - t)


def opencv_sequential(path: Path, n: int) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    t = time.perf_counter()
    for _ in range(n):
        ok, frame = cap.read()
        if not ok:
            break
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)  # same output as ours: one grey channel
    cap.release()
    return n / (time.perf_counter() - t)


PEAK_SCRIPT = """
import resource, sys
import numpy, dask.array
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from napari_leap import open_video
v = open_video(sys.argv[1])
v[len(v) // 2].compute()
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def open_peak_memory(path: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    base, peak = (int(x) / 1024 for x in out)
    return base, peak


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CLIP
    n = 500
    ours, source, cv = [], [], []
    for _ in range(3):  # interleaved rounds so machine noise hits both alike
        a, b = ours_sequential(path, n)
        ours.append(a)
        source.append(b)
        cv.append(opencv_sequential(path, n))
    latency = random_latency(path)
    base, peak = open_peak_memory(path)
    result = {
        "video": path.name,
        "random_frame_latency_ms_median": round(latency * 1000, 1),
        "sequential_fps_dask_median": round(statistics.median(ours), 1),
        "sequential_fps_framesource_median": round(statistics.median(source), 1),
        "sequential_fps_opencv_median": round(statistics.median(cv), 1),
        "ratio_dask_over_opencv": round(statistics.median(ours) / statistics.median(cv), 2),
        "ratio_framesource_over_opencv": round(
            statistics.median(source) / statistics.median(cv), 2
        ),
        "open_peak_rss_mib": round(peak, 1),
        "open_peak_rss_over_imports_mib": round(peak - base, 1),
    }
    for k, v in result.items():
        print(f"{k:38s} {v}")
    (Path(__file__).with_suffix(".json")).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
