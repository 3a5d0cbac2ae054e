-- Raising a campaign's pool floor (services/assigner/pool_floor.py; the floor: migration 0002).

-- name: try_lock_pool_floor --
-- Exclusive against the shared lock that statements putting rows into the pool hold.
SELECT pg_try_advisory_xact_lock(pool_floor_lock_key($1));

-- name: pool_floor --
SELECT pool_floor_id FROM campaign WHERE id = $1;

-- name: first_in_pool --
-- The row comparison with `campaign_id <= $1` starts the index scan at the floor, not at the
-- campaign's first entry (see claim_initials). Rows a claim in flight has locked still count.
SELECT id FROM conversation
WHERE campaign_id <= $1 AND (campaign_id, id) >= ($1, $2)
  AND assignee_id IS NULL AND status = 'not_started'
ORDER BY campaign_id, id
LIMIT 1;

-- name: set_pool_floor --
UPDATE campaign SET pool_floor_id = $2 WHERE id = $1;
