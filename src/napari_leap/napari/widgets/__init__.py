"""Dock widgets: each wires controls to one core function."""
