"""The sender: dispatches initial messages and replies, exactly once, through the outbox."""
