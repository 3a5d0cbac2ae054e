-- File imports in parts (services/assigner/contacts.py): parts are staged under an import id and
-- go into the campaign together, in the commit's one transaction, or not at all.

-- name: sweep_file_imports :exec --
-- Imports abandoned for a day (a client that died, an outage that outlasted it) and the answers
-- of committed ones, which a retried commit needs only for minutes.
-- One request in flight on such an import keeps it (SKIP LOCKED): sweeps never wait or deadlock.
DELETE FROM contact_file_import WHERE id IN (
    SELECT id FROM contact_file_import WHERE touched_at < now() - interval '1 day'
    FOR UPDATE SKIP LOCKED
);

-- name: create_file_import :exec --
INSERT INTO contact_file_import (id, campaign_id, created_by, rows)
VALUES (:import_id, :campaign_id, :user_id, :rows)
ON CONFLICT (id) DO NOTHING;

-- name: file_import_for_update :maybe --
-- The commit or an abort has the import to itself: a part or another commit arriving meanwhile,
-- or either arriving while parts are being staged, does not wait (NOWAIT) and is told to ask
-- again. Only the caller's own import of this campaign (:campaign_id, :user_id) is found: another's, busy or
-- not, is as absent as an id never used, and is not locked.
SELECT campaign_id, created_by, rows, staged, state, result
FROM contact_file_import WHERE id = :import_id AND campaign_id = :campaign_id AND created_by = :user_id
FOR UPDATE NOWAIT;

-- name: file_import_for_staging :maybe --
-- Parts are staged side by side (a key share lock each, which only the commit's and an abort's
-- locks exclude); each adds its count under the row's own lock, taken by count_staged. Only the
-- caller's own, as above.
SELECT campaign_id, created_by, rows, staged, state, result
FROM contact_file_import WHERE id = :import_id AND campaign_id = :campaign_id AND created_by = :user_id
FOR KEY SHARE NOWAIT;

-- name: staged_between :scalar --
-- not null: count
SELECT count(*) FROM contact_file_row WHERE import_id = :import_id AND row_no >= :first_row AND row_no < :end_row;

-- name: count_staged :scalar --
-- not null: staged
-- :added rows more were staged; answers the rows staged so far. Parts staged side by side take turns
-- here, each until its transaction ends, and each adds to the count the one before it left.
UPDATE contact_file_import SET staged = staged + :added, touched_at = now() WHERE id = :import_id
RETURNING staged;

-- name: commit_file_import :one --
-- not null: imported, rejected_by_reason, first_rejections
-- Everything staged under import :import_id goes into campaign :campaign_id of organization :org_id in this one
-- statement: each phone's first row in the file, unless the organization's opt-out list or the
-- campaign already has that phone; every other row is a rejection with its reason. Answers the
-- count imported, the rejections counted by reason, and the first :first_rejections rejections in file order.
WITH staged AS (
    SELECT row_no, phone, first_name, last_name, fields, timezone, reason,
           row_number() OVER (PARTITION BY phone ORDER BY row_no) AS nth
    FROM contact_file_row WHERE import_id = :import_id
), candidates AS (
    SELECT s.row_no, s.phone, s.first_name, s.last_name, s.fields, s.timezone,
           EXISTS (SELECT 1 FROM opt_out o WHERE o.org_id = :org_id AND o.phone = s.phone) AS opted_out
    FROM staged s WHERE s.reason IS NULL AND s.nth = 1
), inserted AS (
    INSERT INTO contact (campaign_id, phone, first_name, last_name, fields, timezone)
    SELECT :campaign_id, phone, first_name, last_name, fields, timezone
    FROM candidates WHERE NOT opted_out ORDER BY row_no
    ON CONFLICT (campaign_id, phone) DO NOTHING
    RETURNING id, phone, timezone
), conversations AS (
    -- The zone group from the contact's own row, here, not by the insert trigger, which reads
    -- the contact again row by row (5 of a million-row commit's 28 s).
    INSERT INTO conversation (campaign_id, contact_id, zone_group)
    SELECT :campaign_id, id, contact_zone_group(timezone, phone) FROM inserted ORDER BY id
), outcome AS (
    -- Every rejected row with its reason. No joins: the staged rows have no statistics yet, and
    -- a nested loop over two CTEs of a million rows each would never end; NOT IN is hashed.
    SELECT row_no, reason FROM staged WHERE reason IS NOT NULL
    UNION ALL
    SELECT row_no, 'duplicate: repeated in this import' FROM staged
    WHERE reason IS NULL AND nth > 1
    UNION ALL
    SELECT row_no, 'opted_out' FROM candidates WHERE opted_out
    UNION ALL
    SELECT row_no, 'duplicate: already in the campaign' FROM candidates
    WHERE NOT opted_out AND phone NOT IN (SELECT phone FROM inserted)
)
SELECT
    (SELECT count(*) FROM inserted) AS imported,
    (SELECT coalesce(jsonb_object_agg(code, n), '{}'::jsonb)
     FROM (SELECT split_part(reason, ':', 1) AS code, count(*) AS n
           FROM outcome GROUP BY 1) AS counted) AS rejected_by_reason,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('row', row_no, 'reason', reason)
                               ORDER BY row_no), '[]'::jsonb)
     FROM (SELECT row_no, reason FROM outcome ORDER BY row_no LIMIT :first_rejections) AS firsts)
        AS first_rejections;

-- name: finish_file_import :exec --
-- The staged rows are in the campaign now; keep only the answer, for a retried commit.
WITH emptied AS (
    DELETE FROM contact_file_row WHERE import_id = :import_id
)
UPDATE contact_file_import SET state = 'committed', result = :result, touched_at = now()
WHERE id = :import_id;

-- name: abort_file_import :exec --
DELETE FROM contact_file_import WHERE id = :import_id AND state = 'staging';
