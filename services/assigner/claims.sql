-- Self-assignment: the hot path. Every claim is one short statement.

-- name: campaign_and_texter_locks :maybe --
-- not null: zone_groups, pool_floors
-- The campaign (every column, as `campaign` in queries.sql has them and more), with its zone
-- groups (migration 0006) and each one's pool floor in zone group order, and the locks that keep
-- one request per texter and campaign at a time: "two clicks at once give one batch". :texter_ids: the
-- texters asking, in ascending order, so two batches sharing a texter take their locks in one
-- order and cannot deadlock. One round trip for all of it (a claim is a handful of them, and
-- each costs more than the statement).
-- The locks are taken before anything is checked; a transaction lets go of them as it ends.
-- What the texters hold is read by the next statement, never by this one: a statement sees what
-- was committed when it began, which may be before a concurrent request of the same texter,
-- holding the lock meanwhile, committed its batch. The floors may be read before the locks: a
-- floor read early is only lower, and nothing is below a lower floor either.
SELECT c.*,
       ARRAY(SELECT zone_group FROM campaign_zone_group WHERE campaign_id = :campaign_id
             ORDER BY zone_group) AS zone_groups,
       ARRAY(SELECT pool_floor_id FROM campaign_zone_group WHERE campaign_id = :campaign_id
             ORDER BY zone_group) AS pool_floors,
       (SELECT bool_and(pg_advisory_xact_lock(
                   hashtextextended('claim:' || :campaign_id::bigint || ':' || t, 0)) IS NOT NULL)
        FROM unnest(:texter_ids::bigint[]) AS t) AS locked
FROM campaign c WHERE c.id = :campaign_id;

-- name: texters_pending :many --
-- not null: is_texter, initials, replies
-- For each texter of :texter_ids: whether they text on the campaign, what they still hold that blocks a
-- new batch, and what their team on the campaign allows (migration 0018: of the campaign's teams
-- they are in, the highest priority's; none: no limit beyond the campaign's).
SELECT t.user_id, team.assignment_kind AS team_assignment_kind,
    team.max_request_size AS team_max_request_size,
    EXISTS (SELECT 1 FROM campaign_texter WHERE campaign_id = :campaign_id AND user_id = t.user_id)
        AS is_texter,
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = t.user_id AND campaign_id = :campaign_id AND status = 'not_started')
        AS initials,
    EXISTS (SELECT 1 FROM conversation
            WHERE assignee_id = t.user_id AND campaign_id = :campaign_id AND status = 'needs_reply')
        AS replies
FROM unnest(:texter_ids::bigint[]) AS t(user_id)
LEFT JOIN LATERAL (
    SELECT tm.assignment_kind, tm.max_request_size
    FROM campaign_team ct
    JOIN team_member m ON m.team_id = ct.team_id AND m.user_id = t.user_id
    JOIN team tm ON tm.id = ct.team_id
    WHERE ct.campaign_id = :campaign_id
    ORDER BY tm.assignment_priority DESC, tm.id
    LIMIT 1
) team ON true;

-- name: zone_group_zones :many --
-- The zones of zone groups this process has not seen yet (services/assigner/zone_groups.py).
SELECT id, zones FROM zone_group WHERE id = ANY(:zone_groups::integer[]);

-- name: claim_initials :many --
-- not null: slot, id, zone_group
-- Unassigned not_started conversations of the zone groups open now (:zone_groups, closing soonest first),
-- each group from its claim cursor (:after_ids, the same order), in id order inside a group, dealt to
-- the texters claiming together (services/assigner/claim_batches.py): :size rows in all, the n-th
-- row picked going to slot :slots[n], and slot k's rows to texter :texter_ids[k] as operation :operations[k] with
-- reason :reasons[k]. One scan serves every texter of the batch, where claims one by one would each
-- scan and skip the rows the others hold locked.
-- One index range scan per group, from (campaign, group, cursor) to the group's end: rows of
-- closed groups are never read, however many there are. The scans run one after another under
-- the outer LIMIT, and a row is locked only as it is pulled up, so exactly :size rows are locked:
-- no more than the batch keeps, nothing for concurrent claims to skip in vain.
-- The range is two row comparisons on the pool index's key, not `campaign_id = :campaign_id AND
-- zone_group = g AND id > cursor`: with those equalities the wanted order reduces to `id`, and
-- the planner walked the primary key from the cursor, filtering every conversation of every
-- group (closed ones included) and every one already claimed. Only the pool index serves these
-- comparisons in this order, and they bound its scan at both ends: it starts at the cursor, not
-- at the group's first entry with the dead ones after it (test_hot_queries_use_their_indexes.py).
-- SKIP LOCKED lets concurrent claims take disjoint rows; move_conversations (migration 0007)
-- moves and logs each texter's slice, and its holder guard makes a row that changed hands
-- after the SELECT impossible to take twice.
WITH picked AS (
    SELECT p.id
    FROM unnest(:zone_groups::integer[], :after_ids::bigint[]) AS g(zone_group, after_id)
    CROSS JOIN LATERAL (
        SELECT id FROM conversation
        WHERE (campaign_id, zone_group, id) > (:campaign_id, g.zone_group, g.after_id)
          AND (campaign_id, zone_group) <= (:campaign_id, g.zone_group)
          AND assignee_id IS NULL AND status = 'not_started'
        ORDER BY campaign_id, zone_group, id
        LIMIT :size
        FOR UPDATE SKIP LOCKED
    ) p
    LIMIT :size
), dealt AS (
    SELECT (:slots::integer[])[row_number() OVER ()] AS slot, id FROM picked
), slices AS (
    SELECT slot, array_agg(id) AS ids FROM dealt GROUP BY slot
)
SELECT s.slot, m.id, m.zone_group
FROM slices s
CROSS JOIN LATERAL move_conversations(
    (:operations::uuid[])[s.slot], s.ids, array_fill(NULL::bigint, ARRAY[cardinality(s.ids)]),
    array_fill((:texter_ids::bigint[])[s.slot], ARRAY[cardinality(s.ids)]), 'not_started',
    (:reasons::text[])[s.slot], (:texter_ids::bigint[])[s.slot]
) m
ORDER BY s.slot, m.id;

-- name: claim_replies :many --
-- not null: id
-- Unassigned needs_reply conversations of the zone groups open now (:open_groups), the longest-waiting
-- first across them. Each group gives its oldest :size from its own index range; of those the
-- oldest :size are kept. Rows a group gave beyond that stay locked only until this short
-- transaction ends (a concurrent reply claim skips them meanwhile): a merge in waiting order
-- needs every group's candidates, and the reply pool is small beside the initials'.
WITH picked AS (
    SELECT p.id
    FROM unnest(:open_groups::integer[]) AS g(zone_group)
    CROSS JOIN LATERAL (
        SELECT id, needs_reply_since FROM conversation
        WHERE campaign_id = :campaign_id AND zone_group = g.zone_group
          AND assignee_id IS NULL AND status = 'needs_reply'
        ORDER BY campaign_id, zone_group, needs_reply_since, id
        LIMIT :size
        FOR UPDATE SKIP LOCKED
    ) p
    ORDER BY p.needs_reply_since, p.id
    LIMIT :size
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(NULL::bigint), '{}') AS froms,
           coalesce(array_agg(:texter_id::bigint), '{}') AS tos
    FROM picked
)
SELECT m.id
FROM batch, move_conversations(:operation, batch.ids, batch.froms, batch.tos, 'needs_reply', :reason, :texter_id) m
ORDER BY m.id;

-- name: pooled_initials_groups :many --
-- The campaign's zone groups that still hold an Unassigned not_started row, each looked for
-- from its pool floor: when a claim found nothing, "empty" (none), "locked by other claims" (an
-- open group) and "nothing open now" (only closed groups) are told apart. A scalar subquery with
-- ORDER BY ... LIMIT 1, not EXISTS: Postgres drops the ORDER BY inside EXISTS, and with
-- statistics from the campaign's start (a drain outruns autovacuum's ANALYZE) it then expects a
-- row at once from a sequential scan and reads the whole table.
-- The range in claim_initials' form.
SELECT z.zone_group, g.zones
FROM campaign_zone_group z JOIN zone_group g ON g.id = z.zone_group
WHERE z.campaign_id = :campaign_id
  AND (SELECT id FROM conversation
       WHERE (campaign_id, zone_group, id) >= (:campaign_id, z.zone_group, z.pool_floor_id)
         AND (campaign_id, zone_group) <= (:campaign_id, z.zone_group)
         AND assignee_id IS NULL AND status = 'not_started'
       ORDER BY campaign_id, zone_group, id
       LIMIT 1) IS NOT NULL;

-- name: pooled_replies_groups :many --
-- The same for the replies pool, in its index's order.
SELECT z.zone_group, g.zones
FROM campaign_zone_group z JOIN zone_group g ON g.id = z.zone_group
WHERE z.campaign_id = :campaign_id
  AND (SELECT id FROM conversation
       WHERE campaign_id = :campaign_id AND zone_group = z.zone_group
         AND assignee_id IS NULL AND status = 'needs_reply'
       ORDER BY campaign_id, zone_group, needs_reply_since, id
       LIMIT 1) IS NOT NULL;
