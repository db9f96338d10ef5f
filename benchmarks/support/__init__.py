"""Pieces the benchmarks share (not benchmarks themselves: CI runs benchmarks/*.py only)."""
