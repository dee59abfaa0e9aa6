"""Selectors of the checkout app."""
