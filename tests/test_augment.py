"""Augmentation defaults chosen from the labels."""


def test_rotation_range_follows_how_the_labelled_parts_turn():
    """A rig that holds the view is turned little; animals facing every way, fully."""
    import numpy as np

    from napari_leap.pose.augment import MIN_ROTATION, rotation_range

    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0], [0.0, 40.0], [25.0, 10.0]])  # a joystick's two ends, a hand
    rig = base[None] + rng.normal(0, 1.0, (30, 3, 2)) + rng.uniform(0, 300, (30, 1, 2))
    assert rotation_range(rig) == MIN_ROTATION
    angles = rng.uniform(-np.pi, np.pi, 30)
    rot = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)], -1)
    free = np.einsum("nij,kj->nki", rot.reshape(30, 2, 2), base)
    assert rotation_range(free) == 180.0
    half = free.copy()
    half[:, 1] = np.nan  # one part never labelled with the others leaves the other pairs
    assert rotation_range(half) == 180.0
    assert rotation_range(np.full((4, 3, 2), np.nan)) == 180.0
