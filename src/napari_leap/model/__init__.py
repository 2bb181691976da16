"""Plain data of the core: skeletons, poses and the labelling state. No I/O, no torch, no Qt."""
