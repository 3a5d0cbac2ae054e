-- Self-assignment: the hot path. Every claim is one short statement.

-- name: texter_lock --
-- One request per texter and campaign at a time: "two clicks at once give one batch".
SELECT pg_advisory_xact_lock(hashtextextended('claim:' || $1::bigint || ':' || $2::bigint, 0));

-- name: texter_pending --
-- What the texter still holds that blocks a new batch.
SELECT
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = $2 AND campaign_id = $1 AND status = 'not_started') AS initials,
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = $2 AND campaign_id = $1 AND status = 'needs_reply') AS replies;

-- name: claim_initials --
-- Unassigned not_started conversations in id order, from the claim cursor $4 on. SKIP LOCKED
-- lets concurrent claims take disjoint rows; the assignee guard in the UPDATE makes a row that
-- changed hands after the SELECT impossible to take twice.
-- The cursor is a row comparison on (campaign_id, id), ordered the same way: only the pool
-- index serves that, so the planner cannot walk the primary key over every conversation already
-- claimed (with `id > $4 ORDER BY id` it did, 3x slower). And `campaign_id <= $1` rather than
-- `= $1`: with an equality Postgres starts the index scan at the campaign's first entry and
-- reads every dead entry up to the cursor (487 ms per claim 8.8M rows into a 10M campaign,
-- 57 ms with this form, under the same load).
WITH picked AS (
    SELECT id FROM conversation
    WHERE campaign_id <= $1 AND (campaign_id, id) > ($1, $4)
      AND assignee_id IS NULL AND status = 'not_started'
    ORDER BY campaign_id, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE conversation c
    SET assignee_id = $2, assigned_at = now(), updated_at = now()
    FROM picked
    WHERE c.id = picked.id AND c.assignee_id IS NULL AND c.status = 'not_started'
    RETURNING c.id
), logged AS (
    INSERT INTO assignment_event (operation_id, campaign_id, conversation_id, to_texter_id,
                                  reason, actor_id)
    SELECT $5, $1, id, $2, $6, $2 FROM claimed
)
SELECT id FROM claimed ORDER BY id;

-- name: claim_replies --
-- Unassigned needs_reply conversations, the longest-waiting first.
WITH picked AS (
    SELECT id FROM conversation
    WHERE campaign_id = $1 AND assignee_id IS NULL AND status = 'needs_reply'
    ORDER BY needs_reply_since, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE conversation c
    SET assignee_id = $2, assigned_at = now(), updated_at = now()
    FROM picked
    WHERE c.id = picked.id AND c.assignee_id IS NULL AND c.status = 'needs_reply'
    RETURNING c.id
), logged AS (
    INSERT INTO assignment_event (operation_id, campaign_id, conversation_id, to_texter_id,
                                  reason, actor_id)
    SELECT $4, $1, id, $2, $5, $2 FROM claimed
)
SELECT id FROM claimed ORDER BY id;

-- name: pool_has_initials --
-- From the pool floor $2 (migration 0002), in the same row-comparison form as claim_initials.
-- A scalar subquery with ORDER BY ... LIMIT 1, not EXISTS: Postgres drops the ORDER BY inside
-- EXISTS, and with statistics from the campaign's start (a drain outruns autovacuum's ANALYZE)
-- it then expects a row at once from a sequential scan and reads the whole table.
SELECT (SELECT id FROM conversation
        WHERE campaign_id <= $1 AND (campaign_id, id) >= ($1, $2)
          AND assignee_id IS NULL AND status = 'not_started'
        ORDER BY campaign_id, id
        LIMIT 1) IS NOT NULL;

-- name: pool_has_replies --
-- In the pool index's order, for the reason above.
SELECT (SELECT id FROM conversation
        WHERE campaign_id = $1 AND assignee_id IS NULL AND status = 'needs_reply'
        ORDER BY needs_reply_since, id
        LIMIT 1) IS NOT NULL;
