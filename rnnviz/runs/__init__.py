"""Where runs live: the registry that owns them, their trainers, the store that keeps them on disk."""
