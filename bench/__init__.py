"""Benchmarks of batchform against the ways a team does the same work without it (see bench/run.py)."""
