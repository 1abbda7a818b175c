"""From neighbours to a verdict: candidates, verification, ranking, thresholds, evidence.

May import: store, search.
"""
