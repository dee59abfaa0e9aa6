"""Tasks of the events app."""
