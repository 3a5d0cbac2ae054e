-- The writes the campaign tallies (0011) cannot follow are refused, not miscounted (issue 29).
--
-- 0011's triggers follow every INSERT, UPDATE and DELETE, an operator's hand-written ones too;
-- the outside review of #29 found three writes they miss, none of which Baton's code makes:
-- - TRUNCATE of conversation or message fires no trigger that sees the rows;
-- - a conversation moved to another campaign (UPDATE ... SET campaign_id) leaves its failed
--   initials counted in the old campaign: they are tallied by the message's conversation;
-- - a failed initial deleted in the same statement as its conversation (a data-modifying CTE):
--   the message trigger runs at the statement's end, when the conversation to count it by is gone.
-- Each now raises, so the statement changes nothing and says why; the tally stays exact.
CREATE FUNCTION refuse_untallied_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: campaign_tally could not follow it (migration 0021)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'feature_not_supported',
              HINT = 'delete the rows (or move them by a new conversation) instead';
END
$$;

CREATE TRIGGER conversation_never_truncated BEFORE TRUNCATE ON conversation
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_untallied_write();
CREATE TRIGGER message_never_truncated BEFORE TRUNCATE ON message
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_untallied_write();
-- Fires only for statements that name campaign_id in their SET list (none of Baton's do), and
-- then only for a row whose campaign changes.
CREATE TRIGGER conversation_keeps_its_campaign BEFORE UPDATE OF campaign_id ON conversation
    FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id)
    EXECUTE FUNCTION refuse_untallied_write();

-- A failed initial deleted along with its conversation: what the message trigger cannot count.
CREATE FUNCTION refuse_orphaned_failed_initials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows m
               WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
                 AND NOT EXISTS (SELECT 1 FROM conversation c WHERE c.id = m.conversation_id)) THEN
        RAISE EXCEPTION 'a failed initial deleted in the same statement as its conversation is '
                        'refused: campaign_tally could not count it (migration 0021)'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'delete the messages first, then the conversations, in two statements';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_deleted_with_its_conversation
    AFTER DELETE ON message REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_orphaned_failed_initials();
