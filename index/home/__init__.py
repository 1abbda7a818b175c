"""Maintenance of a home: its lock, the consistency survey, check, repair, backup and restore.

May import: every other subpackage.
"""
