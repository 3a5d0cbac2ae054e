-- Reassignment. Sources are locked with FOR UPDATE in id order: a claim in flight holds its
-- rows for a moment and we wait for it, and since claims never wait (SKIP LOCKED) the two
-- cannot deadlock. LIMIT NULL is Reassign All.

-- name: source_of_texter --
SELECT id, assignee_id FROM conversation
WHERE assignee_id = $2 AND campaign_id = $1 AND status = ANY($3::text[])
ORDER BY id LIMIT $4
FOR UPDATE;

-- name: source_unassigned --
SELECT id, assignee_id FROM conversation
WHERE campaign_id = $1 AND assignee_id IS NULL AND status = ANY($2::text[])
ORDER BY id LIMIT $3
FOR UPDATE;

-- name: source_every_sender --
SELECT id, assignee_id FROM conversation
WHERE campaign_id = $1 AND assignee_id IS NOT NULL AND status = ANY($2::text[])
  AND assignee_id IS DISTINCT FROM $4::bigint
ORDER BY id LIMIT $3
FOR UPDATE;

-- name: reassign_evenly --
-- Reassign or unassign in one statement, when no conversation moved is held by a target: the
-- sources of the three source_* queries above ($3: 'texter' (holder $4), 'unassigned', or
-- 'every_sender' (keeping $4's)), locked in id order, numbered, and dealt round-robin over the
-- targets $6 (none: Unassigned), so counts differ by at most one; moved and logged by
-- move_conversations. Answers one row per receiver with its conversations: no row per
-- conversation crosses the wire, however many there are.
WITH locked AS (
    SELECT id, assignee_id FROM conversation
    WHERE campaign_id = $1 AND status = ANY($2::text[])
      AND CASE $3::text
              WHEN 'texter' THEN assignee_id = $4::bigint
              WHEN 'unassigned' THEN assignee_id IS NULL
              ELSE assignee_id IS NOT NULL AND assignee_id IS DISTINCT FROM $4::bigint
          END
    ORDER BY id LIMIT $5
), numbered AS (
    SELECT id, assignee_id, row_number() OVER (ORDER BY id) - 1 AS n FROM locked
), batch AS (
    SELECT coalesce(array_agg(id ORDER BY n), '{}') AS ids,
           coalesce(array_agg(assignee_id ORDER BY n), '{}') AS froms,
           coalesce(array_agg(CASE WHEN cardinality($6::bigint[]) > 0
                                   THEN ($6::bigint[])[n % cardinality($6::bigint[]) + 1] END
                              ORDER BY n), '{}') AS tos
    FROM numbered
)
SELECT m.to_id, array_agg(m.id ORDER BY m.id) AS ids
FROM batch, move_conversations($7, batch.ids, batch.froms, batch.tos, NULL, $8, $9) m
GROUP BY m.to_id;

-- name: apply_moves --
-- Rows were locked above, in this transaction; the holder guard documents the expectation.
SELECT id, to_id
FROM move_conversations($4, $1::bigint[], $2::bigint[], $3::bigint[], NULL, $5, $6)
ORDER BY id;

-- name: non_texters --
-- The ids in $2 that are not texters of campaign $1.
SELECT u.id FROM unnest($2::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM campaign_texter t WHERE t.campaign_id = $1 AND t.user_id = u.id)
ORDER BY u.id;

-- name: conversation_for_update --
SELECT id, campaign_id, assignee_id, status FROM conversation WHERE id = $1 FOR UPDATE;

-- name: held_by --
-- What people $3 hold in organization $1 (only in campaign $2, unless NULL) with a status in $4,
-- locked in id order, as the source_* queries lock.
SELECT v.id, v.campaign_id, v.assignee_id FROM conversation v
JOIN campaign c ON c.id = v.campaign_id
WHERE v.assignee_id = ANY($3::bigint[]) AND c.org_id = $1
  AND ($2::bigint IS NULL OR v.campaign_id = $2) AND v.status = ANY($4::text[])
ORDER BY v.id
FOR UPDATE OF v;
