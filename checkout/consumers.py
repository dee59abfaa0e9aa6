"""Consumers of the checkout app."""
