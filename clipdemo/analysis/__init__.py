"""Pure functions over an engine's embeddings: typed results, no UI imports."""
