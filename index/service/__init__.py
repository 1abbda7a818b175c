"""The records the HTTP service keeps: keys, audit, inspections, scans, uploads, firm designs.

May import: batch, evaluation, index.engine and what is below them.
"""
