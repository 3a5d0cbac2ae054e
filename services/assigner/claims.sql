-- Self-assignment: the hot path. Every claim is one short statement.

-- name: campaign_and_texter_lock --
-- The campaign (every column, as `campaign` in queries.sql has them and more), and the lock that
-- keeps one request per texter and campaign at a time: "two clicks at once give one batch". One
-- round trip for both (a claim is a handful of them, and each costs more than the statement).
-- The lock is taken before anything is checked: a refused request rolls back, which lets go of
-- it at once. What the texter holds is read by the next statement, never by this one: a
-- statement sees what was committed when it began, which may be before a concurrent request of
-- the same texter, holding the lock meanwhile, committed its batch.
SELECT c.*,
       pg_advisory_xact_lock(hashtextextended('claim:' || $1::bigint || ':' || $2::bigint, 0))
           IS NOT NULL AS locked
FROM campaign c WHERE c.id = $1;

-- name: texter_pending --
-- Whether the caller texts on the campaign; what they still hold that blocks a new batch; and,
-- in the same round trip, the campaign's zone groups (migration 0006) with each one's pool
-- floor, in zone group order.
SELECT
    EXISTS (SELECT 1 FROM campaign_texter WHERE campaign_id = $1 AND user_id = $2) AS is_texter,
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = $2 AND campaign_id = $1 AND status = 'not_started') AS initials,
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = $2 AND campaign_id = $1 AND status = 'needs_reply') AS replies,
    ARRAY(SELECT zone_group FROM campaign_zone_group WHERE campaign_id = $1
          ORDER BY zone_group) AS zone_groups,
    ARRAY(SELECT pool_floor_id FROM campaign_zone_group WHERE campaign_id = $1
          ORDER BY zone_group) AS pool_floors;

-- name: zone_group_zones --
-- The zones of zone groups this process has not seen yet (services/assigner/zone_groups.py).
SELECT id, zones FROM zone_group WHERE id = ANY($1::integer[]);

-- name: claim_initials --
-- Unassigned not_started conversations of the zone groups open now ($4, closing soonest first),
-- each group from its claim cursor ($5, the same order), in id order inside a group. One index
-- range scan per group, from (campaign, group, cursor) to the group's end: rows of closed groups
-- are never read, however many there are. The scans run one after another under the outer
-- LIMIT, and a row is locked only as it is pulled up, so exactly $3 rows are locked: no more
-- than a claim keeps, nothing for concurrent claims to skip in vain.
-- The range is two row comparisons on the pool index's key, not `campaign_id = $1 AND
-- zone_group = g AND id > cursor`: with those equalities the wanted order reduces to `id`, and
-- the planner walked the primary key from the cursor, filtering every conversation of every
-- group (closed ones included) and every one already claimed. Only the pool index serves these
-- comparisons in this order, and they bound its scan at both ends: it starts at the cursor, not
-- at the group's first entry with the dead ones after it (test_hot_queries_use_their_indexes.py).
-- SKIP LOCKED lets concurrent claims take disjoint rows; move_conversations (migration 0007)
-- moves and logs them, and its holder guard makes a row that changed hands after the SELECT
-- impossible to take twice.
WITH picked AS (
    SELECT p.id
    FROM unnest($4::integer[], $5::bigint[]) AS g(zone_group, after_id)
    CROSS JOIN LATERAL (
        SELECT id FROM conversation
        WHERE (campaign_id, zone_group, id) > ($1, g.zone_group, g.after_id)
          AND (campaign_id, zone_group) <= ($1, g.zone_group)
          AND assignee_id IS NULL AND status = 'not_started'
        ORDER BY campaign_id, zone_group, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) p
    LIMIT $3
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(NULL::bigint), '{}') AS froms,
           coalesce(array_agg($2::bigint), '{}') AS tos
    FROM picked
)
SELECT m.id, m.zone_group
FROM batch, move_conversations($6, batch.ids, batch.froms, batch.tos, 'not_started', $7, $2) m
ORDER BY m.id;

-- name: claim_replies --
-- Unassigned needs_reply conversations of the zone groups open now ($4), the longest-waiting
-- first across them. Each group gives its oldest $3 from its own index range; of those the
-- oldest $3 are kept. Rows a group gave beyond that stay locked only until this short
-- transaction ends (a concurrent reply claim skips them meanwhile): a merge in waiting order
-- needs every group's candidates, and the reply pool is small beside the initials'.
WITH picked AS (
    SELECT p.id
    FROM unnest($4::integer[]) AS g(zone_group)
    CROSS JOIN LATERAL (
        SELECT id, needs_reply_since FROM conversation
        WHERE campaign_id = $1 AND zone_group = g.zone_group
          AND assignee_id IS NULL AND status = 'needs_reply'
        ORDER BY campaign_id, zone_group, needs_reply_since, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) p
    ORDER BY p.needs_reply_since, p.id
    LIMIT $3
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(NULL::bigint), '{}') AS froms,
           coalesce(array_agg($2::bigint), '{}') AS tos
    FROM picked
)
SELECT m.id
FROM batch, move_conversations($5, batch.ids, batch.froms, batch.tos, 'needs_reply', $6, $2) m
ORDER BY m.id;

-- name: pooled_initials_groups --
-- The campaign's zone groups that still hold an Unassigned not_started row, each looked for
-- from its pool floor: when a claim found nothing, "empty" (none), "locked by other claims" (an
-- open group) and "nothing open now" (only closed groups) are told apart. A scalar subquery with
-- ORDER BY ... LIMIT 1, not EXISTS: Postgres drops the ORDER BY inside EXISTS, and with
-- statistics from the campaign's start (a drain outruns autovacuum's ANALYZE) it then expects a
-- row at once from a sequential scan and reads the whole table.
-- The range in claim_initials' form.
SELECT z.zone_group, g.zones
FROM campaign_zone_group z JOIN zone_group g ON g.id = z.zone_group
WHERE z.campaign_id = $1
  AND (SELECT id FROM conversation
       WHERE (campaign_id, zone_group, id) >= ($1, z.zone_group, z.pool_floor_id)
         AND (campaign_id, zone_group) <= ($1, z.zone_group)
         AND assignee_id IS NULL AND status = 'not_started'
       ORDER BY campaign_id, zone_group, id
       LIMIT 1) IS NOT NULL;

-- name: pooled_replies_groups --
-- The same for the replies pool, in its index's order.
SELECT z.zone_group, g.zones
FROM campaign_zone_group z JOIN zone_group g ON g.id = z.zone_group
WHERE z.campaign_id = $1
  AND (SELECT id FROM conversation
       WHERE campaign_id = $1 AND zone_group = z.zone_group
         AND assignee_id IS NULL AND status = 'needs_reply'
       ORDER BY campaign_id, zone_group, needs_reply_since, id
       LIMIT 1) IS NOT NULL;
