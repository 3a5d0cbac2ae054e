"""SQL shipped with Baton: numbered migrations and shared named queries."""
