-- Raising a campaign's pool floors, one per zone group (services/assigner/pool_floor.py; the
-- floors: migrations 0002 and 0006).

-- name: try_lock_pool_floor :scalar --
-- Exclusive against the shared lock that statements putting rows into the pool hold.
SELECT pg_try_advisory_xact_lock(pool_floor_lock_key(:campaign_id));

-- name: raise_pool_floors :many --
-- not null: new_floor
-- Each group's floor up to its first row still in the pool (:empty_floor, the empty floor, when none),
-- found from the current floor (the range in claim_initials' form); rows a claim in flight has
-- locked still count. Groups whose
-- floor does not move are not written. Answers every group's floor, moved or not.
WITH found AS (
    SELECT z.zone_group, z.pool_floor_id AS old_floor,
           coalesce((SELECT id FROM conversation
                     WHERE (campaign_id, zone_group, id) >= (:campaign_id, z.zone_group, z.pool_floor_id)
                       AND (campaign_id, zone_group) <= (:campaign_id, z.zone_group)
                       AND assignee_id IS NULL AND status = 'not_started'
                     ORDER BY campaign_id, zone_group, id
                     LIMIT 1), :empty_floor) AS new_floor
    FROM campaign_zone_group z
    WHERE z.campaign_id = :campaign_id
), raised AS (
    UPDATE campaign_zone_group z SET pool_floor_id = found.new_floor
    FROM found
    WHERE z.campaign_id = :campaign_id AND z.zone_group = found.zone_group
      AND found.new_floor <> found.old_floor
)
SELECT zone_group, new_floor FROM found;
