"""Tasks of the checkout app."""
