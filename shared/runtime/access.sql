-- Who may do what: a user's role in an organization.

-- name: member_role --
SELECT role FROM organization_member WHERE org_id = $1 AND user_id = $2;

-- name: campaign_org --
SELECT org_id FROM campaign WHERE id = $1;
