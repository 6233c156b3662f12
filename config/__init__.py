"""Settings of the warehouse, read once from the environment."""
