"""The embedder: images in, L2-normalised descriptors out (no FAISS, no HTTP)."""
