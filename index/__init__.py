"""The registry (SQLite), the FAISS index of ids, and the matcher that turns neighbours into verdicts."""

import model  # noqa: F401  (sets the OpenMP wait policy before torch or faiss loads)
