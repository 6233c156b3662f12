"""Data-quality rules over loaded records and facts, and the holds they put on landing days."""
