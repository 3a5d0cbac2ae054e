"""msgspec schemas for every message Baton sends or receives, one module per area."""
