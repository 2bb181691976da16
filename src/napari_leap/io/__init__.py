"""Frame-exact video reading, labels and the project store (no Qt)."""
