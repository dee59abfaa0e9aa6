"""Selectors of the waitlist app."""
