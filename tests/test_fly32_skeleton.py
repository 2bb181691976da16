"""LEAP's 32-node fly skeleton from its CSV: every left leg segment pairs with its right twin."""

from __future__ import annotations

from conftest import FLY32_SKELETON
from napari_leap.io.skeleton_files import load_skeleton
from napari_leap.model.skeleton import Skeleton


def test_upstream_swap_slip_is_repaired_by_names():
    skeleton = load_skeleton(FLY32_SKELETON)
    assert len(skeleton) == 32
    pairs = set(skeleton.symmetry_names) | {p[::-1] for p in skeleton.symmetry_names}
    # skeleton.csv lists midlegL2 as midlegR3's swap; a one-sided entry must not pair them
    assert ("midlegR3", "midlegL3") in pairs
    assert ("midlegR3", "midlegL2") not in pairs
    assert len(skeleton.symmetries) == 14  # 12 leg segments, eyes, wings
    perm = skeleton.flip_permutation()
    assert sorted(perm) == list(range(32))
    assert all(perm[perm[i]] == i for i in range(32))


def test_a_body_part_pairs_with_one_partner_only():
    import pytest

    with pytest.raises(ValueError, match="two left/right pairs"):
        Skeleton(["a", "b", "c"], symmetries=[("a", "b"), ("a", "c")])
    with pytest.raises(ValueError, match="own left/right partner"):
        Skeleton(["a", "b"], symmetries=[("a", "a")])
