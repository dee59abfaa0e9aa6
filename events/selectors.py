"""Selectors of the events app."""
