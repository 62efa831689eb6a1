"""Inbound mail: parse, recognise bounces and auto-replies, classify, file."""
