-- The reads an admin app needs (services/assigner/org_reads.py, issue #33).

-- name: org_campaigns_page :many --
-- not null: team_ids
-- Organization :org_id's campaigns after id :after_id, in id order, :limit at most: only status :status unless NULL,
-- and only those user :texter_id texts on unless NULL.
SELECT c.id, c.title, c.status, c.self_assign, c.team_id, c.created_at,
       ARRAY(SELECT ct.team_id FROM campaign_team ct WHERE ct.campaign_id = c.id
             ORDER BY ct.team_id) AS team_ids
FROM campaign c
WHERE c.org_id = :org_id AND (:status?::text IS NULL OR c.status = :status?) AND c.id > :after_id
  AND (:texter_id?::bigint IS NULL OR EXISTS (
      SELECT 1 FROM campaign_texter t WHERE t.campaign_id = c.id AND t.user_id = :texter_id?))
ORDER BY c.id
LIMIT :limit;

-- name: campaign_counts :many --
-- not null: n, unassigned
-- Conversations per campaign of :campaign_ids and status, and how many of them Unassigned, from the
-- tallies: a few rows per texter, whatever the campaigns' sizes.
SELECT campaign_id, counted AS status, sum(n)::bigint AS n,
       coalesce(sum(n) FILTER (WHERE assignee_id IS NULL), 0)::bigint AS unassigned
FROM campaign_tally
WHERE campaign_id = ANY(:campaign_ids::bigint[]) AND counted <> 'failed_initials'
GROUP BY campaign_id, counted;

-- name: org_teams_page :many --
-- Organization :org_id's teams after id :after_id, in id order, :limit at most; only those user :only is in unless
-- NULL.
SELECT t.id, t.name, t.assignment_priority, t.assignment_kind, t.max_request_size
FROM team t
WHERE t.org_id = :org_id AND t.id > :after_id
  AND (:only?::bigint IS NULL OR EXISTS (
      SELECT 1 FROM team_member m WHERE m.team_id = t.id AND m.user_id = :only?))
ORDER BY t.id
LIMIT :limit;

-- name: team_members :many --
SELECT m.team_id, m.user_id, u.name
FROM team_member m JOIN app_user u ON u.id = m.user_id
WHERE m.team_id = ANY(:team_ids::bigint[])
ORDER BY m.team_id, m.user_id;

-- name: campaign_invites :many --
-- Campaign :campaign_id's invite links, oldest first; the revoked ones too when :include_revoked.
SELECT token, kind, created_by, created_at, revoked_at
FROM invite_link
WHERE campaign_id = :campaign_id AND (:include_revoked OR revoked_at IS NULL)
ORDER BY created_at, token;
