"""The outside: the command line, and (later) the HTTP service and web pages."""

import model  # noqa: F401  (sets the OpenMP wait policy before torch or faiss loads)
