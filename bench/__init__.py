"""Benchmarks: every auth endpoint against the framework floor (see BENCHMARKS.md)."""
