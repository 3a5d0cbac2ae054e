"""Helpers shared by Baton's tests."""
