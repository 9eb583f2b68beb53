"""Retrieval both ways over a gallery, persistent embeddings, and Recall@K evaluation."""
