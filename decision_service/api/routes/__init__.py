"""Route modules of the decision API."""
