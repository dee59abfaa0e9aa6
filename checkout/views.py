"""Pages of the checkout app."""
