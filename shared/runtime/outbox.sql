-- name: lease_pending :many --
-- Lease up to :limit unpublished rows for :lease_seconds seconds; rows another publisher holds are
-- skipped. A row whose lease ran out may be on its stream already (the answer was lost before the
-- mark): publishing it again is safe, the stream refuses a second message on the row's subject. In
-- id order: the publisher sends them in this order, so a stream receives one publisher's rows in
-- the order they were committed (an UPDATE's RETURNING has no order of its own: an opt-out and the
-- opt-in 38 ms after it reached EVENTS reversed).
WITH leased AS (
    UPDATE outbox o
    SET lease_until = now() + make_interval(secs => :lease_seconds)
    WHERE o.id IN (
        SELECT id FROM outbox
        WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
          -- Only rows this publisher's NATS user may publish (:subject_prefixes: subject prefixes).
          AND EXISTS (SELECT 1 FROM unnest(:subject_prefixes::text[]) AS prefix
                      WHERE starts_with(subject, prefix))
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.id, o.subject, o.msg_id, o.payload
)
SELECT id, subject, msg_id, payload FROM leased ORDER BY id;

-- name: mark_published :exec --
-- Rows the stream holds: stored now, or refused as already there.
UPDATE outbox SET published_at = now(), lease_until = NULL
WHERE id = ANY(:outbox_ids::bigint[]) AND published_at IS NULL;

-- name: insert :exec --
INSERT INTO outbox (subject, msg_id, payload) VALUES (:subject, :msg_id, :payload)
ON CONFLICT (msg_id) DO NOTHING;

-- name: insert_many :exec --
INSERT INTO outbox (subject, msg_id, payload)
SELECT * FROM unnest(:subjects::text[], :msg_ids::text[], :payloads::bytea[])
ON CONFLICT (msg_id) DO NOTHING;

-- name: pending_count :scalar --
-- not null: count
-- This publisher's backlog: rows under its subject prefixes (:subject_prefixes), not other
-- services'.
SELECT count(*) FROM outbox
WHERE published_at IS NULL
  AND EXISTS (SELECT 1 FROM unnest(:subject_prefixes::text[]) AS prefix WHERE starts_with(subject, prefix));
