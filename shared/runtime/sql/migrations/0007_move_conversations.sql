-- The one place that moves conversations and logs their moves. Every path that moves one (a
-- claim, a join, reassignment, a single move, Done Texting, every release, the reaper) picks its
-- rows, locked, then calls this function in the same statement.
--
-- A row moves only if it is still where the caller saw it: held by `from_ids[i]` (NULL:
-- Unassigned) and, when `expected_status` is given, in that status. Rows that changed since are
-- left alone and not returned, so a caller that lost a race moves fewer rows, never one twice.
-- Each moved row gets its assignment_event, written by the same statement (one operation id per
-- call); `assigned_at` starts when a texter receives a row and clears when it goes Unassigned.
--
-- PL/pgSQL for its plan cache: a SQL-language function is planned again at every call, which
-- a claim would pay 300 times a second.
CREATE FUNCTION move_conversations(
    operation uuid,
    ids bigint[],
    from_ids bigint[],
    to_ids bigint[],
    expected_status text,
    reason text,
    actor bigint
) RETURNS TABLE (id bigint, campaign_id bigint, zone_group integer, from_id bigint, to_id bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH moves AS (
        SELECT * FROM unnest(ids, from_ids, to_ids) AS m(id, from_id, to_id)
    ), moved AS (
        UPDATE conversation c
        SET assignee_id = m.to_id,
            assigned_at = CASE WHEN m.to_id IS NULL THEN NULL ELSE now() END,
            updated_at = now()
        FROM moves m
        WHERE c.id = m.id AND c.assignee_id IS NOT DISTINCT FROM m.from_id
          AND (expected_status IS NULL OR c.status = expected_status)
        RETURNING c.id, c.campaign_id, c.zone_group, m.from_id, m.to_id
    ), logged AS (
        INSERT INTO assignment_event (operation_id, campaign_id, conversation_id, from_texter_id,
                                      to_texter_id, reason, actor_id)
        SELECT operation, moved.campaign_id, moved.id, moved.from_id, moved.to_id, reason, actor
        FROM moved
    )
    SELECT moved.id, moved.campaign_id, moved.zone_group, moved.from_id, moved.to_id FROM moved;
END
$$;
