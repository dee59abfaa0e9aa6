"""Admin of the waitlist app."""
