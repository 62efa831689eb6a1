"""Benchmarks (`python bench/<name>.py [--quick]`) and their data generator."""
