"""Baton's common code, by layer: contract/ (the API, pure), domain/ (the rules), runtime/ (I/O)."""
