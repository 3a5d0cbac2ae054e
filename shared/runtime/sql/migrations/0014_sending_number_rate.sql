-- A sending number's own rate, in texts per second (issue #31): carriers set 10DLC, toll-free and
-- short-code rates per number. Null: the bridge's BATON_BRIDGE_DEFAULT_RATE.
-- Expand-only: a nullable column the previous release does not name.
ALTER TABLE sending_number ADD COLUMN rate_per_second real
    CHECK (rate_per_second IS NULL OR (rate_per_second > 0 AND rate_per_second <= 1000));
