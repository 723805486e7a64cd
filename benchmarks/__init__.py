"""Benchmarks against the real alternatives (see each module's docstring)."""
