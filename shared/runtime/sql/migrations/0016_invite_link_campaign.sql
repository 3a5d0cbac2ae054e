-- A campaign's invite links, listed by `baton.query.campaign.invites` (issue #33), without
-- reading every link of every campaign. Expand-only: an index; the previous release's statements
-- are unchanged by it.
CREATE INDEX invite_link_campaign ON invite_link (campaign_id, created_at);
