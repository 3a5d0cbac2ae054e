-- name: lease_pending --
-- Lease up to $1 unpublished rows for $2 seconds; rows another publisher holds are skipped.
-- A row whose lease ran out may be on its stream already (the answer was lost before the mark):
-- publishing it again is safe, the stream refuses a second message on the row's subject.
-- In id order: the publisher sends them in this order, so a stream receives one publisher's
-- rows in the order they were committed (an UPDATE's RETURNING has no order of its own: an
-- opt-out and the opt-in 38 ms after it reached EVENTS reversed).
WITH leased AS (
    UPDATE outbox o
    SET lease_until = now() + make_interval(secs => $2)
    WHERE o.id IN (
        SELECT id FROM outbox
        WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
          -- Only rows this publisher's NATS user may publish ($3: subject prefixes).
          AND EXISTS (SELECT 1 FROM unnest($3::text[]) AS prefix
                      WHERE starts_with(subject, prefix))
        ORDER BY id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.id, o.subject, o.msg_id, o.payload
)
SELECT id, subject, msg_id, payload FROM leased ORDER BY id;

-- name: mark_published --
-- Rows the stream holds: stored now, or refused as already there.
UPDATE outbox SET published_at = now(), lease_until = NULL
WHERE id = ANY($1::bigint[]) AND published_at IS NULL;

-- name: insert --
INSERT INTO outbox (subject, msg_id, payload) VALUES ($1, $2, $3)
ON CONFLICT (msg_id) DO NOTHING;

-- name: insert_many --
INSERT INTO outbox (subject, msg_id, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
ON CONFLICT (msg_id) DO NOTHING;

-- name: pending_count --
-- This publisher's backlog: rows under its subject prefixes ($1), not other services'.
SELECT count(*) FROM outbox
WHERE published_at IS NULL
  AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS prefix WHERE starts_with(subject, prefix));
