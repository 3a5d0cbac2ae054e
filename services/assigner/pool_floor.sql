-- Raising a campaign's pool floors, one per zone group (services/assigner/pool_floor.py; the
-- floors: migrations 0002 and 0006).

-- name: try_lock_pool_floor --
-- Exclusive against the shared lock that statements putting rows into the pool hold.
SELECT pg_try_advisory_xact_lock(pool_floor_lock_key($1));

-- name: raise_pool_floors --
-- Each group's floor up to its first row still in the pool ($2, the empty floor, when none),
-- found from the current floor (the range in claim_initials' form); rows a claim in flight has
-- locked still count. Groups whose
-- floor does not move are not written. Answers every group's floor, moved or not.
WITH found AS (
    SELECT z.zone_group, z.pool_floor_id AS old_floor,
           coalesce((SELECT id FROM conversation
                     WHERE (campaign_id, zone_group, id) >= ($1, z.zone_group, z.pool_floor_id)
                       AND (campaign_id, zone_group) <= ($1, z.zone_group)
                       AND assignee_id IS NULL AND status = 'not_started'
                     ORDER BY campaign_id, zone_group, id
                     LIMIT 1), $2) AS new_floor
    FROM campaign_zone_group z
    WHERE z.campaign_id = $1
), raised AS (
    UPDATE campaign_zone_group z SET pool_floor_id = found.new_floor
    FROM found
    WHERE z.campaign_id = $1 AND z.zone_group = found.zone_group
      AND found.new_floor <> found.old_floor
)
SELECT zone_group, new_floor FROM found;
