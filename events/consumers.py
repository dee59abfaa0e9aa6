"""Consumers of the events app."""
