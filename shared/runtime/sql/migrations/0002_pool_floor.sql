-- The pool floor: per campaign, an id below which no Unassigned not_started conversation exists.
--
-- Claimed rows leave dead entries at the front of the pool index until vacuum. A claim starts at
-- its process's cursor, but "is the pool empty?" and "fill a short batch from below the cursor"
-- had to scan from the campaign's first entry: at the end of a 10M-row drain, seconds per request.
-- With the floor they start at the first row that can still be in the pool.
--
-- Lowering is the database's job, so no code path can forget it: any statement that puts a row
-- into the pool (an import, a release, an unassign, a reassignment to Unassigned) lowers the
-- floor to that row if it is below, in the same transaction. Raising is the assigner's
-- (services/assigner/pool_floor.py). The two meet on a per-campaign advisory lock: statements
-- that put rows into the pool hold it shared until they commit (they never wait for each other),
-- a raise needs it exclusively and skips the campaign when it cannot have it at once. So a raise
-- never runs while rows it cannot see yet are entering the pool, and a statement that adds rows
-- after a raise waits for it to commit and then lowers the floor it left.
ALTER TABLE campaign ADD COLUMN pool_floor_id bigint NOT NULL DEFAULT 0;

CREATE FUNCTION pool_floor_lock_key(campaign_id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended('pool_floor:' || campaign_id, 0) $$;

CREATE FUNCTION lower_pool_floor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The common case (a claim, a send, a reply flipping a status) puts nothing into the pool.
    IF NOT EXISTS (SELECT 1 FROM entered_rows
                   WHERE assignee_id IS NULL AND status = 'not_started') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(pool_floor_lock_key(pooled.campaign_id))
    FROM (SELECT DISTINCT campaign_id FROM entered_rows
          WHERE assignee_id IS NULL AND status = 'not_started'
          ORDER BY campaign_id) pooled;
    -- A statement of its own, so its snapshot is taken after the lock is granted.
    UPDATE campaign c SET pool_floor_id = pooled.first_id
    FROM (SELECT campaign_id, min(id) AS first_id FROM entered_rows
          WHERE assignee_id IS NULL AND status = 'not_started'
          GROUP BY campaign_id) pooled
    WHERE c.id = pooled.campaign_id AND pooled.first_id < c.pool_floor_id;
    RETURN NULL;
END
$$;

-- Statement-level with transition tables: one small aggregate per statement, not a call per row
-- (a claim updates 300 rows, an import inserts thousands). A claim's rows are all assigned, so
-- for claims the function finds nothing to do.
CREATE TRIGGER conversation_inserted_lowers_pool_floor
    AFTER INSERT ON conversation REFERENCING NEW TABLE AS entered_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lower_pool_floor();

CREATE TRIGGER conversation_updated_lowers_pool_floor
    AFTER UPDATE ON conversation REFERENCING NEW TABLE AS entered_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lower_pool_floor();
