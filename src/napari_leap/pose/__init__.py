"""Skeletons, confidence maps, networks, training, inference and evaluation (no Qt)."""
