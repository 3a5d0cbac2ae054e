-- A moderator's view of a campaign by status reads what it returns (issue 29).
--
-- page_of_campaign took the status as an optional filter on a walk of conversation_pkey: a page
-- of the campaign's closed conversations read every conversation before the 50th closed one, other
-- campaigns' interleaved rows included (the outside review of #29: 33,308 rows for a page). With
-- the id in this index's key, page_of_campaign_in_status (services/assigner/queries.sql) reads the
-- campaign's rows of one status in id order from the page's cursor.
--
-- Replaces (campaign_id, status) with the same leading columns, so every statement that used it
-- still does, and the number of indexes a row update maintains is unchanged: a claim's update
-- already gave the row a new entry here (it is not kept in place: assignee_id is in other keys).
CREATE INDEX conversation_campaign_status_page ON conversation (campaign_id, status, id);
DROP INDEX conversation_campaign_status;
ALTER INDEX conversation_campaign_status_page RENAME TO conversation_campaign_status;
