-- The reads an admin app needs (services/assigner/org_reads.py, issue #33).

-- name: org_campaigns_page --
-- Organization $1's campaigns after id $3, in id order, $4 at most: only status $2 unless NULL,
-- and only those user $5 texts on unless NULL.
SELECT c.id, c.title, c.status, c.self_assign, c.team_id, c.created_at,
       ARRAY(SELECT ct.team_id FROM campaign_team ct WHERE ct.campaign_id = c.id
             ORDER BY ct.team_id) AS team_ids
FROM campaign c
WHERE c.org_id = $1 AND ($2::text IS NULL OR c.status = $2) AND c.id > $3
  AND ($5::bigint IS NULL OR EXISTS (
      SELECT 1 FROM campaign_texter t WHERE t.campaign_id = c.id AND t.user_id = $5))
ORDER BY c.id
LIMIT $4;

-- name: campaign_counts --
-- Conversations per campaign of $1 and status, and how many of them Unassigned, from the
-- tallies: a few rows per texter, whatever the campaigns' sizes.
SELECT campaign_id, counted AS status, sum(n)::bigint AS n,
       coalesce(sum(n) FILTER (WHERE assignee_id IS NULL), 0)::bigint AS unassigned
FROM campaign_tally
WHERE campaign_id = ANY($1::bigint[]) AND counted <> 'failed_initials'
GROUP BY campaign_id, counted;

-- name: org_teams_page --
-- Organization $1's teams after id $2, in id order, $3 at most; only those user $4 is in unless
-- NULL.
SELECT t.id, t.name, t.assignment_priority, t.assignment_kind, t.max_request_size
FROM team t
WHERE t.org_id = $1 AND t.id > $2
  AND ($4::bigint IS NULL OR EXISTS (
      SELECT 1 FROM team_member m WHERE m.team_id = t.id AND m.user_id = $4))
ORDER BY t.id
LIMIT $3;

-- name: team_members --
SELECT m.team_id, m.user_id, u.name
FROM team_member m JOIN app_user u ON u.id = m.user_id
WHERE m.team_id = ANY($1::bigint[])
ORDER BY m.team_id, m.user_id;

-- name: campaign_invites --
-- Campaign $1's invite links, oldest first; the revoked ones too when $2.
SELECT token, kind, created_by, created_at, revoked_at
FROM invite_link
WHERE campaign_id = $1 AND ($2 OR revoked_at IS NULL)
ORDER BY created_at, token;
