-- Who may do what: a user's role in an organization.

-- name: member_role :scalar --
SELECT role FROM organization_member WHERE org_id = :org_id AND user_id = :user_id;

-- name: campaign_org :scalar --
SELECT org_id FROM campaign WHERE id = :campaign_id;
