"""The registry (SQLite), the FAISS index of ids, and the matcher that turns neighbours into verdicts."""
