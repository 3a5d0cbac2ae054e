-- Campaign exports (services/assigner/exports.py, issue #33).

-- name: start_export :one --
INSERT INTO campaign_export (org_id, campaign_id, requested_by, kind, statuses, since, until,
                             object_name, expires_at)
VALUES (:org_id, :campaign_id, :user_id, :kind, :statuses, :since?, :until?, :name, now() + make_interval(hours => :ttl_hours))
RETURNING *;

-- name: export_turn :exec --
-- Held to the end of the starting transaction: one start at a time per campaign :campaign_id and kind :kind,
-- so two at once cannot both find none running.
SELECT pg_advisory_xact_lock(hashtextextended('campaign_export:' || :campaign_id::bigint || ':' || :kind, 0));

-- name: running_export :scalar --
-- The export of campaign :campaign_id and kind :kind still running (its exporter beat within :silent_seconds seconds),
-- if any: one at a time per campaign and kind.
SELECT id FROM campaign_export
WHERE campaign_id = :campaign_id AND kind = :kind AND state = 'running'
  AND heartbeat_at >= now() - make_interval(secs => :silent_seconds)
ORDER BY id DESC
LIMIT 1;

-- name: export :maybe --
SELECT * FROM campaign_export WHERE id = :export_id;

-- name: heartbeat :exec --
UPDATE campaign_export SET heartbeat_at = now(), size_bytes = :size_bytes
WHERE id = :export_id AND state = 'running';

-- name: finish_export :maybe --
-- Export :export_id from running to :state (complete or failed); no row if it was not running.
UPDATE campaign_export
SET state = :state, size_bytes = :size_bytes, row_count = :row_count?, digest = :digest?, object_nuid = :object_nuid?, error = :error?,
    finished_at = now(), heartbeat_at = now()
WHERE id = :export_id AND state = 'running'
RETURNING *;

-- name: export_conversations :many --
-- One row per conversation of campaign :campaign_id (organization :org_id): the contact, status, holder,
-- times and opt-out; only statuses :statuses (empty: all), last changed in [:since, :until) (NULL: open).
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
LEFT JOIN opt_out o ON o.org_id = :org_id AND o.phone = ct.phone
WHERE cv.campaign_id = :campaign_id AND (cardinality(:statuses::text[]) = 0 OR cv.status = ANY(:statuses::text[]))
  AND (:since?::timestamptz IS NULL OR cv.updated_at >= :since?)
  AND (:until?::timestamptz IS NULL OR cv.updated_at < :until?)
ORDER BY cv.id;

-- name: export_messages :many --
-- One row per message of campaign :campaign_id (organization :org_id, unused: the same shape as the
-- conversations' export): direction, kind, body, times, the texter, the provider's status and
-- code; only conversations in statuses :statuses (empty: all), messages created in [:since, :until).
SELECT m.id AS message_id, m.conversation_id, csv_cell(ct.phone) AS phone, m.direction, m.kind,
       csv_cell(m.body) AS body, m.texter_id, csv_cell(u.name) AS texter_name,
       m.delivery_status AS provider_status, csv_cell(m.error_code) AS provider_code,
       rfc3339(m.created_at) AS created_at, rfc3339(m.updated_at) AS updated_at
FROM conversation cv
JOIN message m ON m.conversation_id = cv.id
JOIN contact ct ON ct.id = cv.contact_id
LEFT JOIN app_user u ON u.id = m.texter_id
WHERE cv.campaign_id = :campaign_id AND :org_id?::bigint IS NOT NULL
  AND (cardinality(:statuses::text[]) = 0 OR cv.status = ANY(:statuses::text[]))
  AND (:since?::timestamptz IS NULL OR m.created_at >= :since?)
  AND (:until?::timestamptz IS NULL OR m.created_at < :until?)
ORDER BY m.conversation_id, m.id;
