"""Inventory writes. One module per concern; entry points own their transaction."""
