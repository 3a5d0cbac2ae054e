-- The release clock is Baton's. A reply's `needs_reply_since` and its message's `created_at` are
-- the time Baton recorded it; the provider's `received_at` is kept beside it, for the record.
-- A bridge whose clock runs behind (or a message delivered late) no longer makes a reply look
-- hours old and released at once; one whose clock runs ahead no longer makes it never released.
ALTER TABLE message ADD COLUMN provider_received_at timestamptz;
