"""Writes of the waitlist app."""
