-- Who is in an organization and on its campaigns, and taking people out (services/assigner/
-- membership.py). The organization's row is locked first (`org_exists`), so two changes to its
-- owners are applied one after the other and "the last owner" is counted right.

-- name: member_for_update --
SELECT role FROM organization_member WHERE org_id = $1 AND user_id = $2 FOR UPDATE;

-- name: owner_count --
SELECT count(*) FROM organization_member WHERE org_id = $1 AND role = 'owner';

-- name: set_role --
UPDATE organization_member SET role = $3 WHERE org_id = $1 AND user_id = $2;

-- name: remove_member --
DELETE FROM organization_member WHERE org_id = $1 AND user_id = $2;

-- name: leave_campaigns --
-- Off every campaign of organization $1, and out of its teams.
WITH campaigns AS (
    DELETE FROM campaign_texter t USING campaign c
    WHERE c.id = t.campaign_id AND c.org_id = $1 AND t.user_id = $2
    RETURNING 1
)
DELETE FROM team_member m USING team t
WHERE t.id = m.team_id AND t.org_id = $1 AND m.user_id = $2;

-- name: members --
SELECT m.user_id, u.name, m.role, m.request_level
FROM organization_member m JOIN app_user u ON u.id = m.user_id
WHERE m.org_id = $1 AND ($2::bigint IS NULL OR m.user_id = $2)
ORDER BY m.user_id;

-- name: claim_locks --
-- The claim locks (claims.sql `campaign_and_texter_locks`: the same key) of people $3 on the
-- campaigns of organization $1 they text on (only campaign $2, unless NULL), in the order claims
-- take them. A claim in flight for one of them commits before they are removed, so what it hands
-- out is found and returned; one after finds them gone. Taken before any row is locked, as
-- claims do, so the two cannot deadlock.
SELECT count(pg_advisory_xact_lock(hashtextextended('claim:' || p.campaign_id || ':' || p.user_id, 0)))
FROM (
    SELECT t.campaign_id, t.user_id FROM campaign_texter t JOIN campaign c ON c.id = t.campaign_id
    WHERE c.org_id = $1 AND ($2::bigint IS NULL OR t.campaign_id = $2)
      AND t.user_id = ANY($3::bigint[])
    ORDER BY t.campaign_id, t.user_id
) p;

-- name: remove_texters --
DELETE FROM campaign_texter WHERE campaign_id = $1 AND user_id = ANY($2::bigint[]);

-- name: record_removal --
-- Who was taken out of organization $1 ($4: from campaign $3 only, or null: the whole
-- organization), by whom ($5): an invite link does not bring them back.
INSERT INTO removal (org_id, user_id, campaign_id, removed_by)
SELECT $1, u, $3, $4 FROM unnest($2::bigint[]) AS u
ON CONFLICT (org_id, user_id, coalesce(campaign_id, 0))
DO UPDATE SET removed_by = excluded.removed_by, removed_at = now();
