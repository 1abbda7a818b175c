"""Benchmarks: a run in a throw-away home, its metrics, thresholds fitted from it.

May import: batch, index.engine and what is below them.
"""
