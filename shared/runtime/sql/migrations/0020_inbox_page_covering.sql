-- A texter's inbox page read from its index alone (issue 29).
--
-- page_of_inbox (services/assigner/queries.sql) reads conversation_inbox_page from the page's
-- cursor, then fetched each conversation's heap row for the columns the page shows. A texter's
-- conversations lie one or a few to a heap page in a large campaign, so a page of 50 read about
-- 50 heap pages more there than in a small one. With those columns in the index (INCLUDE: kept
-- in its leaves, not in its key), the conversation side is an index-only scan: what it reads no
-- longer grows with the campaign, only the contacts' lookups remain (contact_pkey).
--
-- The same key and predicate, so every statement that used the index still does. Adds no work a
-- claim's update did not already do: the update gives the row a new entry in this index anyway
-- (assignee_id is in its key), and contact_id never changes; status and needs_reply_since are in
-- other indexes' keys, so no update of them was kept in place (HOT) before either. What it costs
-- claims: bench.claims --inbox-index-baseline, measured in one run.
CREATE INDEX conversation_inbox_page_covering ON conversation (assignee_id, campaign_id, id)
    INCLUDE (contact_id, status, needs_reply_since)
    WHERE status <> 'awaiting_reply';
DROP INDEX conversation_inbox_page;
ALTER INDEX conversation_inbox_page_covering RENAME TO conversation_inbox_page;
