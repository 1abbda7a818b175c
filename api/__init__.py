"""The outside: the command line, the HTTP service and its web pages; errors mapped in api/errors.py."""

import model  # noqa: F401  (sets the OpenMP wait policy before torch or faiss loads)
