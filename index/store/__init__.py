"""What is durable: the SQLite connection and its one schema, registry, image blobs, features.

May import: index.errors and model.
"""
