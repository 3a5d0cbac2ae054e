"""What the image runs besides a service: the entry point, migrate, token."""
