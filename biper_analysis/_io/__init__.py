"""The private io layer: atomic writes, JSON, output claims, provenance, reproducibility settings, argument
validation and the one user-facing error type. Everything else builds on it; it imports nothing of the package."""
