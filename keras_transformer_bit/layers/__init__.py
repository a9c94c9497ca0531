"""Public layers: one per file. Add one import line per layer."""
