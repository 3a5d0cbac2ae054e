"""Benchmarks: real servers, printed figures and JSON in bench/results/. Not part of make test."""
