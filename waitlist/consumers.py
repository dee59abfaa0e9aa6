"""Consumers of the waitlist app."""
