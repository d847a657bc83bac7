"""Shipped weights (data only)."""
