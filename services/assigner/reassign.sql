-- Reassignment. Sources are locked with FOR UPDATE in id order: a claim in flight holds its
-- rows for a moment and we wait for it, and since claims never wait (SKIP LOCKED) the two
-- cannot deadlock. LIMIT NULL is Reassign All.

-- name: source_of_texter :many --
SELECT id, assignee_id FROM conversation
WHERE assignee_id = :texter_id AND campaign_id = :campaign_id AND status = ANY(:statuses::text[])
ORDER BY id LIMIT :limit?
FOR UPDATE;

-- name: source_unassigned :many --
SELECT id, assignee_id FROM conversation
WHERE campaign_id = :campaign_id AND assignee_id IS NULL AND status = ANY(:statuses::text[])
ORDER BY id LIMIT :limit?
FOR UPDATE;

-- name: source_every_sender :many --
SELECT id, assignee_id FROM conversation
WHERE campaign_id = :campaign_id AND assignee_id IS NOT NULL AND status = ANY(:statuses::text[])
  AND assignee_id IS DISTINCT FROM :keeps?::bigint
ORDER BY id LIMIT :limit?
FOR UPDATE;

-- name: reassign_evenly :many --
-- not null: ids
-- Reassign or unassign in one statement, when no conversation moved is held by a target: the
-- sources of the three source_* queries above (:source: 'texter' (holder :holder), 'unassigned', or
-- 'every_sender' (keeping :holder's)), locked in id order, numbered, and dealt round-robin over the
-- targets :targets (none: Unassigned), so counts differ by at most one; moved and logged by
-- move_conversations. Answers one row per receiver with its conversations: no row per
-- conversation crosses the wire, however many there are.
WITH locked AS (
    SELECT id, assignee_id FROM conversation
    WHERE campaign_id = :campaign_id AND status = ANY(:statuses::text[])
      AND CASE :source::text
              WHEN 'texter' THEN assignee_id = :holder?::bigint
              WHEN 'unassigned' THEN assignee_id IS NULL
              ELSE assignee_id IS NOT NULL AND assignee_id IS DISTINCT FROM :holder?::bigint
          END
    ORDER BY id LIMIT :limit?
), numbered AS (
    SELECT id, assignee_id, row_number() OVER (ORDER BY id) - 1 AS n FROM locked
), batch AS (
    SELECT coalesce(array_agg(id ORDER BY n), '{}') AS ids,
           coalesce(array_agg(assignee_id ORDER BY n), '{}') AS froms,
           coalesce(array_agg(CASE WHEN cardinality(:targets::bigint[]) > 0
                                   THEN (:targets::bigint[])[n % cardinality(:targets::bigint[]) + 1] END
                              ORDER BY n), '{}') AS tos
    FROM numbered
)
SELECT m.to_id, array_agg(m.id ORDER BY m.id) AS ids
FROM batch, move_conversations(:operation, batch.ids, batch.froms, batch.tos, NULL, :reason, :actor_id) m
GROUP BY m.to_id;

-- name: apply_moves :many --
-- not null: id
-- Rows were locked above, in this transaction; the holder guard documents the expectation.
SELECT id, to_id
FROM move_conversations(:operation, :conversation_ids::bigint[], :holders::bigint[], :new_holders::bigint[], NULL, :reason, :actor_id)
ORDER BY id;

-- name: non_texters :many --
-- not null: id
-- The ids in :user_ids that are not texters of campaign :campaign_id.
SELECT u.id FROM unnest(:user_ids::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM campaign_texter t WHERE t.campaign_id = :campaign_id AND t.user_id = u.id)
ORDER BY u.id;

-- name: conversation_for_update :maybe --
SELECT id, campaign_id, assignee_id, status FROM conversation WHERE id = :conversation_id FOR UPDATE;

-- name: held_by :many --
-- What people :user_ids hold in organization :org_id (only in campaign :campaign_id, unless NULL) with a status in :statuses,
-- locked in id order, as the source_* queries lock.
SELECT v.id, v.campaign_id, v.assignee_id FROM conversation v
JOIN campaign c ON c.id = v.campaign_id
WHERE v.assignee_id = ANY(:user_ids::bigint[]) AND c.org_id = :org_id
  AND (:campaign_id?::bigint IS NULL OR v.campaign_id = :campaign_id?) AND v.status = ANY(:statuses::text[])
ORDER BY v.id
FOR UPDATE OF v;
