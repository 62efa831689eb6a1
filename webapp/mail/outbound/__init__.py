"""Outbound mail: compose, fill placeholders, build the bytes, deliver exactly once."""
