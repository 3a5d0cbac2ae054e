-- name: lease_pending --
-- Lease up to $1 unpublished rows for $2 seconds; rows another publisher holds are skipped.
UPDATE outbox o
SET lease_until = now() + make_interval(secs => $2)
WHERE o.id IN (
    SELECT id FROM outbox
    WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING o.id, o.subject, o.msg_id, o.payload;

-- name: mark_published --
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
SELECT count(*) FROM outbox WHERE published_at IS NULL;
