-- The reaper's named queries. Every time comparison takes the injectable clock:
-- coalesce(:now?, now()). Every release moves its rows with move_conversations (migration 0007).

-- name: pass_lock :scalar --
-- not null: pg_try_advisory_xact_lock
-- One reaper works at a time; the others find the lock taken and skip this pass.
SELECT pg_try_advisory_xact_lock(hashtextextended('baton:reaper', 0));

-- name: release_unhandled :many --
-- not null: id, campaign_id, from_id
-- Assigned replies left unhandled longer than their campaign's timeout by the texter holding
-- them: timed from needs_reply_since or from when that texter got the conversation, whichever
-- is later (never from updated_at, which any edit bumps). A reply reassigned or claimed from
-- the pool gets its new holder the whole timeout, not whatever was left of the old one's.
-- Up to :chunk per campaign per pass; SKIP LOCKED leaves rows a send is busy with to the next pass.
WITH due AS (
    SELECT v.id, v.campaign_id, v.assignee_id
    FROM campaign c
    CROSS JOIN LATERAL (
        SELECT id, campaign_id, assignee_id FROM conversation
        WHERE campaign_id = c.id AND assignee_id IS NOT NULL AND status = 'needs_reply'
          AND needs_reply_since
              <= coalesce(:now?, now()) - make_interval(mins => c.release_unhandled_after_minutes)
          AND coalesce(assigned_at, '-infinity')
              <= coalesce(:now?, now()) - make_interval(mins => c.release_unhandled_after_minutes)
        ORDER BY needs_reply_since
        LIMIT :chunk
        FOR UPDATE SKIP LOCKED
    ) v
    WHERE c.release_unhandled_after_minutes IS NOT NULL AND c.status = 'active'
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(assignee_id), '{}') AS froms,
           coalesce(array_agg(NULL::bigint), '{}') AS tos
    FROM due
)
SELECT m.id, m.campaign_id, m.from_id
FROM batch,
     move_conversations(:operation, batch.ids, batch.froms, batch.tos,
                        'needs_reply', 'unhandled_timeout', NULL) m
ORDER BY m.id;

-- name: release_all_unhandled :many --
-- not null: id, campaign_id, from_id
-- The admin's "release all unhandled replies of this campaign now".
WITH due AS (
    SELECT id, campaign_id, assignee_id FROM conversation
    WHERE campaign_id = :campaign_id AND assignee_id IS NOT NULL AND status = 'needs_reply'
    ORDER BY id FOR UPDATE
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(assignee_id), '{}') AS froms,
           coalesce(array_agg(NULL::bigint), '{}') AS tos
    FROM due
)
SELECT m.id, m.campaign_id, m.from_id
FROM batch,
     move_conversations(:operation, batch.ids, batch.froms, batch.tos, 'needs_reply', 'release', :actor_id) m
ORDER BY m.id;

-- name: release_stale_initials :many --
-- not null: id, campaign_id, from_id
-- Not-started conversations held longer than :held_longer_than_hours hours by texters who stopped.
WITH due AS (
    SELECT id, campaign_id, assignee_id FROM conversation
    WHERE campaign_id = :campaign_id AND assignee_id IS NOT NULL AND status = 'not_started'
      AND assigned_at <= coalesce(:now?, now()) - make_interval(hours => :held_longer_than_hours)
    ORDER BY id FOR UPDATE
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(assignee_id), '{}') AS froms,
           coalesce(array_agg(NULL::bigint), '{}') AS tos
    FROM due
)
SELECT m.id, m.campaign_id, m.from_id
FROM batch,
     move_conversations(:operation, batch.ids, batch.froms, batch.tos,
                        'not_started', 'stale_initials', :actor_id) m
ORDER BY m.id;

-- name: oldest_unhandled :many --
-- not null: age_seconds
-- Per campaign with release on, how long its oldest assigned reply has waited (seconds) on
-- the texter holding it: on the release clock of release_unhandled.
SELECT c.id AS campaign_id,
       extract(epoch FROM coalesce(:now?, now()) - o.since)::float8 AS age_seconds
FROM campaign c
CROSS JOIN LATERAL (
    SELECT min(greatest(needs_reply_since, assigned_at)) AS since FROM conversation
    WHERE campaign_id = c.id AND assignee_id IS NOT NULL AND status = 'needs_reply'
) o
WHERE o.since IS NOT NULL
  AND c.release_unhandled_after_minutes IS NOT NULL AND c.status = 'active';

-- name: campaign_gauges :many --
-- not null: campaign_id, unassigned_not_started, unassigned_needs_reply
-- not null: assigned_needs_reply, not_started
-- What an organizer watches per active campaign, from the tallies (migration 0011): a few rows
-- per texter and zone group, whatever the campaign's size.
SELECT c.id AS campaign_id,
       c.release_unhandled_after_minutes,
       coalesce(sum(t.n) FILTER (WHERE t.assignee_id IS NULL AND t.counted = 'not_started'), 0)
           AS unassigned_not_started,
       coalesce(sum(t.n) FILTER (WHERE t.assignee_id IS NULL AND t.counted = 'needs_reply'), 0)
           AS unassigned_needs_reply,
       coalesce(sum(t.n) FILTER (WHERE t.assignee_id IS NOT NULL
                                   AND t.counted = 'needs_reply'), 0)
           AS assigned_needs_reply,
       coalesce(sum(t.n) FILTER (WHERE t.counted = 'not_started'), 0) AS not_started
FROM campaign c
LEFT JOIN campaign_tally t ON t.campaign_id = c.id
WHERE c.status = 'active'
GROUP BY c.id, c.release_unhandled_after_minutes;

-- name: fold_tallies :scalar --
-- not null: count
-- Each campaign with rows appended since the last fold: all its rows replaced by one per key.
-- Rows appended while this runs are not in its snapshot and stay for the next fold; writers
-- never wait on it (they only append).
WITH due AS (
    SELECT DISTINCT campaign_id FROM campaign_tally WHERE NOT folded
), gone AS (
    DELETE FROM campaign_tally t USING due WHERE t.campaign_id = due.campaign_id
    RETURNING t.campaign_id, t.counted, t.assignee_id, t.zone_group, t.n
), folded AS (
    INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n, folded)
    SELECT campaign_id, counted, assignee_id, zone_group, sum(n), true FROM gone
    GROUP BY campaign_id, counted, assignee_id, zone_group
    HAVING sum(n) <> 0
)
SELECT count(*) FROM gone;

-- name: self_assign_zone_groups :many --
-- Every zone group of every active self-assign campaign, with the campaign's hours: the reaper
-- tells in Python (shared/domain/texting_hours.py) which are closed now.
SELECT c.id AS campaign_id, c.texting_hours_start, c.texting_hours_end, c.closing_margin_minutes,
       c.fallback_zone, z.zone_group, g.zones
FROM campaign c
JOIN campaign_zone_group z ON z.campaign_id = c.id
JOIN zone_group g ON g.id = z.zone_group
WHERE c.status = 'active' AND c.self_assign;

-- name: release_closed_initials :many --
-- not null: id, campaign_id, from_id
-- Held not_started conversations of the (campaign :campaign_ids[i], zone group :zone_groups[i])
-- pairs whose texting hours have closed, back to Unassigned, up to :limit per texter: their texter
-- cannot send them, and they would block that texter's next request. Found texter by texter through
-- the assignee index, so that claims keep no index of their own for this (a third of a millisecond
-- per 300-row claim, measured); a campaign's texters are a few probes each. The zone test sits
-- below the lock, so no open conversation is locked; SKIP LOCKED leaves a send in flight alone, the
-- status guard one that committed.
WITH closed AS (
    SELECT * FROM unnest(:campaign_ids::bigint[], :zone_groups::integer[]) AS g(campaign_id, zone_group)
), due AS (
    SELECT v.id, v.campaign_id, v.assignee_id
    FROM campaign_texter t
    CROSS JOIN LATERAL (
        SELECT id, campaign_id, assignee_id FROM conversation c
        WHERE c.assignee_id = t.user_id AND c.campaign_id = t.campaign_id
          AND c.status = 'not_started'
          AND EXISTS (SELECT 1 FROM closed
                      WHERE closed.campaign_id = c.campaign_id
                        AND closed.zone_group = c.zone_group)
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) v
    WHERE t.campaign_id IN (SELECT campaign_id FROM closed)
), batch AS (
    SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(assignee_id), '{}') AS froms,
           coalesce(array_agg(NULL::bigint), '{}') AS tos
    FROM due
)
SELECT m.id, m.campaign_id, m.from_id
FROM batch,
     move_conversations(:operation, batch.ids, batch.froms, batch.tos,
                        'not_started', 'texting_hours_closed', NULL) m
ORDER BY m.id;
