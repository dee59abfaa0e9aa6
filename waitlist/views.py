"""Pages of the waitlist app."""
