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
