-- Campaign exports (services/assigner/exports.py, issue #33).

-- name: start_export --
INSERT INTO campaign_export (org_id, campaign_id, requested_by, kind, statuses, since, until,
                             object_name, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(hours => $9))
RETURNING *;

-- name: export_turn --
-- Held to the end of the starting transaction: one start at a time per campaign $1 and kind $2,
-- so two at once cannot both find none running.
SELECT pg_advisory_xact_lock(hashtextextended('campaign_export:' || $1::bigint || ':' || $2, 0));

-- name: running_export --
-- The export of campaign $1 and kind $2 still running (its exporter beat within $3 seconds),
-- if any: one at a time per campaign and kind.
SELECT id FROM campaign_export
WHERE campaign_id = $1 AND kind = $2 AND state = 'running'
  AND heartbeat_at >= now() - make_interval(secs => $3)
ORDER BY id DESC
LIMIT 1;

-- name: export --
SELECT * FROM campaign_export WHERE id = $1;

-- name: heartbeat --
UPDATE campaign_export SET heartbeat_at = now(), size_bytes = $2
WHERE id = $1 AND state = 'running';

-- name: finish_export --
-- Export $1 from running to $2 (complete or failed); no row if it was not running.
UPDATE campaign_export
SET state = $2, size_bytes = $3, row_count = $4, digest = $5, object_nuid = $6, error = $7,
    finished_at = now(), heartbeat_at = now()
WHERE id = $1 AND state = 'running'
RETURNING *;

-- name: export_conversations --
-- One row per conversation of campaign $1 (organization $2): the contact, status, holder,
-- times and opt-out; only statuses $3 (empty: all), last changed in [$4, $5) (NULL: open).
-- Text a person typed goes through csv_cell (migration 0017: no formula cells).
SELECT cv.id AS conversation_id, ct.id AS contact_id, csv_cell(ct.phone) AS phone,
       csv_cell(ct.first_name) AS first_name, csv_cell(ct.last_name) AS last_name,
       csv_cell(ct.fields::text) AS fields, csv_cell(ct.timezone) AS timezone, cv.status,
       cv.assignee_id AS holder_id, csv_cell(u.name) AS holder_name,
       rfc3339(cv.assigned_at) AS assigned_at, rfc3339(cv.needs_reply_since) AS needs_reply_since,
       rfc3339(cv.updated_at) AS updated_at, o.phone IS NOT NULL AS opted_out,
       rfc3339(o.created_at) AS opted_out_at
FROM conversation cv
JOIN contact ct ON ct.id = cv.contact_id
LEFT JOIN app_user u ON u.id = cv.assignee_id
LEFT JOIN opt_out o ON o.org_id = $2 AND o.phone = ct.phone
WHERE cv.campaign_id = $1 AND (cardinality($3::text[]) = 0 OR cv.status = ANY($3::text[]))
  AND ($4::timestamptz IS NULL OR cv.updated_at >= $4)
  AND ($5::timestamptz IS NULL OR cv.updated_at < $5)
ORDER BY cv.id;

-- name: export_messages --
-- One row per message of campaign $1 (organization $2, unused: the same shape as the
-- conversations' export): direction, kind, body, times, the texter, the provider's status and
-- code; only conversations in statuses $3 (empty: all), messages created in [$4, $5).
SELECT m.id AS message_id, m.conversation_id, csv_cell(ct.phone) AS phone, m.direction, m.kind,
       csv_cell(m.body) AS body, m.texter_id, csv_cell(u.name) AS texter_name,
       m.delivery_status AS provider_status, csv_cell(m.error_code) AS provider_code,
       rfc3339(m.created_at) AS created_at, rfc3339(m.updated_at) AS updated_at
FROM conversation cv
JOIN message m ON m.conversation_id = cv.id
JOIN contact ct ON ct.id = cv.contact_id
LEFT JOIN app_user u ON u.id = m.texter_id
WHERE cv.campaign_id = $1 AND $2::bigint IS NOT NULL
  AND (cardinality($3::text[]) = 0 OR cv.status = ANY($3::text[]))
  AND ($4::timestamptz IS NULL OR m.created_at >= $4)
  AND ($5::timestamptz IS NULL OR m.created_at < $5)
ORDER BY m.conversation_id, m.id;
