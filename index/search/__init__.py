"""The FAISS index: index kinds, checkpoints, the live index kept in step with the registry.

The only place that imports faiss. May import: store.
"""
