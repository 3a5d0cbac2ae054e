-- Who is in an organization and on its campaigns, and taking people out (services/assigner/
-- membership.py). The organization's row is locked first (`org_exists`), so two changes to its
-- owners are applied one after the other and "the last owner" is counted right.

-- name: member_for_update :scalar --
SELECT role FROM organization_member WHERE org_id = :org_id AND user_id = :user_id FOR UPDATE;

-- name: owner_count :scalar --
-- not null: count
SELECT count(*) FROM organization_member WHERE org_id = :org_id AND role = 'owner';

-- name: set_role :exec --
UPDATE organization_member SET role = :role WHERE org_id = :org_id AND user_id = :user_id;

-- name: remove_member :exec --
DELETE FROM organization_member WHERE org_id = :org_id AND user_id = :user_id;

-- name: leave_campaigns :exec --
-- Off every campaign of organization :org_id, and out of its teams.
WITH campaigns AS (
    DELETE FROM campaign_texter t USING campaign c
    WHERE c.id = t.campaign_id AND c.org_id = :org_id AND t.user_id = :user_id
    RETURNING 1
)
DELETE FROM team_member m USING team t
WHERE t.id = m.team_id AND t.org_id = :org_id AND m.user_id = :user_id;

-- name: members :many --
SELECT m.user_id, u.name, m.role, m.request_level
FROM organization_member m JOIN app_user u ON u.id = m.user_id
WHERE m.org_id = :org_id AND (:user_id?::bigint IS NULL OR m.user_id = :user_id?)
ORDER BY m.user_id;

-- name: claim_locks :exec --
-- The claim locks (claims.sql `campaign_and_texter_locks`: the same key) of people :user_ids on the
-- campaigns of organization :org_id they text on (only campaign :campaign_id, unless NULL), in the order claims
-- take them. A claim in flight for one of them commits before they are removed, so what it hands
-- out is found and returned; one after finds them gone. Taken before any row is locked, as
-- claims do, so the two cannot deadlock.
SELECT count(pg_advisory_xact_lock(hashtextextended('claim:' || p.campaign_id || ':' || p.user_id, 0)))
FROM (
    SELECT t.campaign_id, t.user_id FROM campaign_texter t JOIN campaign c ON c.id = t.campaign_id
    WHERE c.org_id = :org_id AND (:campaign_id?::bigint IS NULL OR t.campaign_id = :campaign_id?)
      AND t.user_id = ANY(:user_ids::bigint[])
    ORDER BY t.campaign_id, t.user_id
) p;

-- name: remove_texters :exec --
DELETE FROM campaign_texter WHERE campaign_id = :campaign_id AND user_id = ANY(:user_ids::bigint[]);

-- name: record_removal :exec --
-- Who was taken out of organization :org_id (from campaign :campaign_id only, or null: the
-- whole organization), by whom (:removed_by): an invite link does not bring them back.
INSERT INTO removal (org_id, user_id, campaign_id, removed_by)
SELECT :org_id, u, :campaign_id?, :removed_by FROM unnest(:user_ids::bigint[]) AS u
ON CONFLICT (org_id, user_id, coalesce(campaign_id, 0))
DO UPDATE SET removed_by = excluded.removed_by, removed_at = now();
