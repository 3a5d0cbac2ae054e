-- Reads that cost what they return (issue 29).
--
-- 1. Pages of conversations, one statement per filter shape (services/assigner/
--    conversation_pages.py). A texter's inbox and the Unassigned ones read an index of their own
--    from the page's cursor in id order, so a page of 50 reads about 50 entries whatever the
--    campaign's size, and the generic plan is the custom one. Both are partial: a claim's update
--    (every index gets an entry for a row an update does not keep in place) adds an entry to the
--    inbox one only. Three full indexes here made claims 0.72-0.80x as fast (bench.claims
--    --tally-baseline), so a texter's whole list (conversation_assignee, then sorted: it costs
--    what the texter holds) and a campaign's whole list have none of their own.
CREATE INDEX conversation_inbox_page ON conversation (assignee_id, campaign_id, id)
    WHERE status <> 'awaiting_reply';
CREATE INDEX conversation_unassigned_page ON conversation (campaign_id, id)
    WHERE assignee_id IS NULL;

-- 2. The campaign's counts, kept by the transactions that change the rows: conversations per
--    (status, assignee), with the zone group for Unassigned ones (the pool per group), and the
--    initials that failed. Kept by triggers in Postgres, so every writer keeps them exact: this
--    release's services, the previous release's still running during an upgrade, an operator's
--    hand-written UPDATE.
--
--    A statement does not update a counter row: it appends its net change, one row per key it
--    moved (a claim of 300 rows for 20 texters appends about 21). So concurrent claims, sends and
--    replies never wait on one another's counters, and never deadlock over them; the Unassigned
--    row every claim decrements does not exist as one row to fight over. The reaper folds each
--    campaign's rows into one per key every second or so (fold_tallies), so a read sums a few
--    rows per texter, not per conversation.
CREATE TABLE campaign_tally (
    campaign_id bigint NOT NULL,
    -- A conversation status, or 'failed_initials' (initial messages whose delivery failed).
    counted     text NOT NULL,
    -- NULL: Unassigned.
    assignee_id bigint,
    -- Only for Unassigned conversations (the pool per zone group); NULL otherwise.
    zone_group  integer,
    n           bigint NOT NULL,
    -- Written by fold_tallies: the sum of everything appended before it.
    folded      boolean NOT NULL DEFAULT false
);
CREATE INDEX campaign_tally_campaign ON campaign_tally (campaign_id);
CREATE INDEX campaign_tally_unfolded ON campaign_tally (campaign_id) WHERE NOT folded;

-- What the counts are, computed from the rows: the backfill below, and the test that rebuilds
-- every counter after a concurrent workload and compares (tests/integration/test_tallies.py).
CREATE VIEW campaign_tally_recount AS
SELECT campaign_id, status AS counted, assignee_id,
       CASE WHEN assignee_id IS NULL THEN zone_group END AS zone_group, count(*) AS n
FROM conversation
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT c.campaign_id, 'failed_initials', NULL, NULL, count(*)
FROM message m JOIN conversation c ON c.id = m.conversation_id
WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
GROUP BY c.campaign_id;

-- One function for the three triggers: a row leaving a key counts -1 there, a row entering +1;
-- a row a statement touched without moving cancels out and appends nothing.
CREATE FUNCTION tally_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id,
               CASE WHEN assignee_id IS NULL THEN zone_group END, count(*)
        FROM new_rows
        GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id, zg, sum(d)
        FROM (SELECT campaign_id, status, assignee_id,
                     CASE WHEN assignee_id IS NULL THEN zone_group END AS zg, 1 AS d
              FROM new_rows
              UNION ALL
              SELECT campaign_id, status, assignee_id,
                     CASE WHEN assignee_id IS NULL THEN zone_group END, -1
              FROM old_rows) moved
        GROUP BY 1, 2, 3, 4
        HAVING sum(d) <> 0;
    ELSE
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id,
               CASE WHEN assignee_id IS NULL THEN zone_group END, -count(*)
        FROM old_rows
        GROUP BY 1, 2, 3, 4;
    END IF;
    RETURN NULL;
END
$$;

-- Statement-level with transition tables, as the pool floor's (migration 0002): one small
-- aggregate per statement, not a call per row.
CREATE TRIGGER conversation_inserted_tallies
    AFTER INSERT ON conversation REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_conversations();
CREATE TRIGGER conversation_updated_tallies
    AFTER UPDATE ON conversation REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_conversations();
CREATE TRIGGER conversation_deleted_tallies
    AFTER DELETE ON conversation REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_conversations();

-- Failed initials: a send recorded failed, or a receipt saying so. Most statements (a batch
-- marked sent, a delivered receipt, a reply) have no failed initial and append nothing.
CREATE FUNCTION tally_failed_initials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', count(*)
        FROM new_rows m JOIN conversation c ON c.id = m.conversation_id
        WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
        GROUP BY c.campaign_id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', sum(d)
        FROM (SELECT conversation_id, 1 AS d FROM new_rows
              WHERE kind = 'initial' AND delivery_status = 'failed'
              UNION ALL
              SELECT conversation_id, -1 FROM old_rows
              WHERE kind = 'initial' AND delivery_status = 'failed') moved
        JOIN conversation c ON c.id = moved.conversation_id
        GROUP BY c.campaign_id
        HAVING sum(d) <> 0;
    ELSE
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', -count(*)
        FROM old_rows m JOIN conversation c ON c.id = m.conversation_id
        WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
        GROUP BY c.campaign_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_inserted_tallies
    AFTER INSERT ON message REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_failed_initials();
CREATE TRIGGER message_updated_tallies
    AFTER UPDATE ON message REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_failed_initials();
CREATE TRIGGER message_deleted_tallies
    AFTER DELETE ON message REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tally_failed_initials();

-- The backfill, after the triggers: creating them locked both tables against writers until this
-- transaction commits (the migrations run in one), so the rows counted here are all there is,
-- and every later write is appended by the triggers.
INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n, folded)
SELECT campaign_id, counted, assignee_id, zone_group, n, true FROM campaign_tally_recount;
