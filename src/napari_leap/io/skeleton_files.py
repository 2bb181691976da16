"""Skeleton files: JSON/YAML, LEAP's ``name,parent,swap`` tables and any labels file's skeleton."""

from __future__ import annotations

import json
from pathlib import Path

from napari_leap.io.atomic import atomic_write_text
from napari_leap.io.labels import load_labels, skeleton_from_sleap
from napari_leap.io.labels.dlc import dlc_metadata
from napari_leap.model.skeleton import Skeleton, propose_symmetries


def save_skeleton(skeleton: Skeleton, path: str | Path) -> None:
    """Write YAML for ``.yml``/``.yaml``, JSON otherwise (atomically)."""
    path = Path(path)
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        text = yaml.safe_dump(skeleton.to_dict(), sort_keys=False)
    else:
        text = json.dumps(skeleton.to_dict(), indent=2)
    atomic_write_text(path, text)


def load_skeleton(path: str | Path) -> Skeleton:
    """From JSON/YAML, a LEAP skeleton table, or the skeleton of any labels file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        import yaml

        return Skeleton.from_dict(yaml.safe_load(path.read_text()))
    if suffix == ".json":
        return Skeleton.from_dict(json.loads(path.read_text()))
    if suffix == ".csv" and _is_skeleton_table(path):
        return _from_table(path)
    if suffix == ".csv":  # a DeepLabCut CollectedData file: node order and pairs from its sidecar
        found = dlc_metadata(path).get("skeleton")
        if found is not None:
            return found
    return skeleton_from_sleap(load_labels(path).skeletons[0])


def _is_skeleton_table(path: Path) -> bool:
    """True for a LEAP/DeepPoseKit ``name,parent,swap`` table (not a labels CSV)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        header = [c.strip().lower() for c in f.readline().split(",")]
    return "name" in header and "parent" in header


def _from_table(path: Path) -> Skeleton:
    """LEAP/DeepPoseKit ``name,parent,swap`` tables."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    nodes = [r["name"].strip() for r in rows]
    edges = [(r["parent"].strip(), r["name"].strip()) for r in rows if r.get("parent", "").strip()]
    swap = {r["name"].strip(): (r.get("swap") or "").strip() for r in rows}
    # keep only mutual pairs (a one-sided swap entry is an upstream slip), then let the
    # names pair what the slip left alone (fly32: midlegR3 lists midlegL2)
    pairs = {tuple(sorted((a, b))) for a, b in swap.items() if b and swap.get(b) == a}
    paired = {n for p in pairs for n in p}
    for i, j in propose_symmetries(nodes):
        if nodes[i] not in paired and nodes[j] not in paired:
            pairs.add(tuple(sorted((nodes[i], nodes[j]))))
    parts = Skeleton(nodes=nodes)  # names to indices, with its error for an unknown part
    return Skeleton(
        nodes=nodes,
        edges=[(parts.index(a), parts.index(b)) for a, b in edges],
        symmetries=[(parts.index(a), parts.index(b)) for a, b in sorted(pairs)],
        name=path.stem,
    )
