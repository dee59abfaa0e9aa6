"""Tasks of the waitlist app."""
