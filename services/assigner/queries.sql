-- The assigner's named queries. Time comparisons take an injectable now: coalesce($n, now()).

-- name: org_exists :scalar --
SELECT id FROM organization WHERE id = :org_id FOR UPDATE;

-- name: org_member_count :scalar --
-- not null: count
SELECT count(*) FROM organization_member WHERE org_id = :org_id;

-- name: create_org :scalar --
-- not null: id
INSERT INTO organization (name, default_batch_size) VALUES (:name, :default_batch_size?) RETURNING id;

-- name: org_for_update :one --
SELECT id, default_batch_size, opt_out_confirmation FROM organization WHERE id = :org_id FOR UPDATE;

-- name: org :one --
SELECT id, default_batch_size, opt_out_confirmation FROM organization WHERE id = :org_id;

-- name: save_org :exec --
UPDATE organization SET default_batch_size = :default_batch_size?, opt_out_confirmation = :opt_out_confirmation WHERE id = :org_id;

-- name: user_exists :scalar --
SELECT EXISTS (SELECT 1 FROM app_user WHERE id = :user_id);

-- name: create_user :scalar --
-- not null: id
INSERT INTO app_user (name) VALUES (:name) RETURNING id;

-- name: add_org_member :exec --
INSERT INTO organization_member (org_id, user_id, role) VALUES (:org_id, :user_id, :role);

-- name: create_team :scalar --
INSERT INTO team (org_id, name) VALUES (:org_id, :name)
ON CONFLICT (org_id, name) DO NOTHING
RETURNING id;

-- name: org_teams_named :many --
-- Of the team ids :names, those of organization :org_id.
SELECT id FROM team WHERE org_id = :org_id AND id = ANY(:names::bigint[]);

-- name: set_campaign_teams :exec --
-- Campaign :campaign_id limited to teams :team_ids exactly, and `team_id` the first of them for the previous
-- release's code (migration 0018).
WITH gone AS (
    DELETE FROM campaign_team WHERE campaign_id = :campaign_id AND team_id <> ALL(:team_ids::bigint[])
), added AS (
    INSERT INTO campaign_team (campaign_id, team_id)
    SELECT :campaign_id, t FROM unnest(:team_ids::bigint[]) AS t
    ON CONFLICT DO NOTHING
)
UPDATE campaign SET team_id = :team_ids[1] WHERE id = :campaign_id;

-- name: team_for_update :maybe --
SELECT * FROM team WHERE id = :team_id FOR UPDATE;

-- name: save_team :one --
UPDATE team SET assignment_priority = :assignment_priority, assignment_kind = :assignment_kind, max_request_size = :max_request_size?
WHERE id = :team_id
RETURNING *;

-- name: non_members :many --
-- not null: id
-- The ids in :user_ids that are not members of organization :org_id.
SELECT u.id FROM unnest(:user_ids::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM organization_member m WHERE m.org_id = :org_id AND m.user_id = u.id)
ORDER BY u.id;

-- name: add_team_members :exec --
INSERT INTO team_member (team_id, user_id)
SELECT :team_id, u FROM unnest(:user_ids::bigint[]) AS u
ON CONFLICT DO NOTHING;

-- name: org_default_batch_size :scalar --
-- not null: coalesce
SELECT coalesce(default_batch_size, 300) FROM organization WHERE id = :org_id;

-- name: create_campaign :scalar --
-- not null: id
INSERT INTO campaign (org_id, team_id, title, batch_size, texting_hours_start, texting_hours_end,
                      sending_number)
VALUES (:org_id, :team_id?, :title, :batch_size, :texting_hours_start, :texting_hours_end, :sending_number?)
RETURNING id;

-- name: campaign :maybe --
-- not null: team_ids
SELECT id, org_id, team_id, title, status, self_assign, batch_size, replies_batch_size,
       require_replies_handled, release_unhandled_after_minutes, texting_hours_start,
       texting_hours_end, closing_margin_minutes, fallback_zone, sending_number,
       ARRAY(SELECT team_id FROM campaign_team WHERE campaign_id = :campaign_id ORDER BY team_id)
           AS team_ids
FROM campaign WHERE id = :campaign_id;

-- name: campaign_for_update :maybe --
-- not null: team_ids
SELECT id, org_id, team_id, title, status, self_assign, batch_size, replies_batch_size,
       require_replies_handled, release_unhandled_after_minutes, texting_hours_start,
       texting_hours_end, closing_margin_minutes, fallback_zone, sending_number,
       ARRAY(SELECT team_id FROM campaign_team WHERE campaign_id = :campaign_id ORDER BY team_id)
           AS team_ids
FROM campaign WHERE id = :campaign_id FOR UPDATE;

-- name: save_campaign :exec --
UPDATE campaign SET status = :status, self_assign = :self_assign, batch_size = :batch_size, replies_batch_size = :replies_batch_size,
       require_replies_handled = :require_replies_handled, release_unhandled_after_minutes = :release_unhandled_after_minutes?,
       texting_hours_start = :texting_hours_start, texting_hours_end = :texting_hours_end, sending_number = :sending_number?,
       closing_margin_minutes = :closing_margin_minutes, fallback_zone = :fallback_zone?, updated_at = now()
WHERE id = :campaign_id;

-- name: add_texters :exec --
INSERT INTO campaign_texter (campaign_id, user_id, joined_via)
SELECT :campaign_id, u, :source FROM unnest(:user_ids::bigint[]) AS u
ON CONFLICT DO NOTHING;

-- name: is_texter :scalar --
-- not null: exists
SELECT EXISTS (SELECT 1 FROM campaign_texter WHERE campaign_id = :campaign_id AND user_id = :user_id);

-- name: create_invite :exec --
INSERT INTO invite_link (token, campaign_id, kind, created_by) VALUES (:token, :campaign_id, :kind, :created_by);

-- name: invite :maybe --
SELECT i.token, i.campaign_id, i.kind, i.revoked_at, c.org_id, c.team_id
FROM invite_link i JOIN campaign c ON c.id = i.campaign_id
WHERE i.token = :token;

-- name: revoke_invite :exec --
UPDATE invite_link SET revoked_at = now() WHERE token = :token AND revoked_at IS NULL;

-- name: add_team_member :exec --
INSERT INTO team_member (team_id, user_id) VALUES (:team_id, :user_id) ON CONFLICT DO NOTHING;

-- name: opted_out_phones :many --
SELECT phone FROM opt_out WHERE org_id = :org_id AND phone = ANY(:phones::text[]);

-- name: create_import_staging :exec --
-- Rows arrive by COPY into this per-transaction table, then go in with one INSERT ... SELECT.
CREATE TEMP TABLE contact_import (
    phone      text NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    fields     jsonb NOT NULL,
    timezone   text
) ON COMMIT DROP;

-- name: import_contacts :many --
-- Insert the staged contacts and one Unassigned not_started conversation each; rows whose phone
-- the campaign already has are skipped and reported by the caller as duplicates.
WITH inserted AS (
    INSERT INTO contact (campaign_id, phone, first_name, last_name, fields, timezone)
    SELECT :campaign_id, phone, first_name, last_name, fields, timezone FROM contact_import
    ON CONFLICT (campaign_id, phone) DO NOTHING
    RETURNING id, phone, timezone
), conversations AS (
    -- The zone group from the contact's row at hand (the insert trigger would read it again).
    INSERT INTO conversation (campaign_id, contact_id, zone_group)
    SELECT :campaign_id, id, contact_zone_group(timezone, phone) FROM inserted
)
SELECT phone FROM inserted;

-- name: stats_by_status :many --
-- not null: n
-- From the tallies (migration 0011): a few rows per texter, whatever the campaign's size.
SELECT counted AS status, assignee_id, sum(n)::bigint AS n
FROM campaign_tally
WHERE campaign_id = :campaign_id AND counted <> 'failed_initials'
GROUP BY counted, assignee_id
HAVING sum(n) <> 0;

-- name: failed_initials :scalar --
-- not null: coalesce
SELECT coalesce(sum(n), 0)::bigint FROM campaign_tally
WHERE campaign_id = :campaign_id AND counted = 'failed_initials';

-- name: unassigned_by_zone_group :many --
-- not null: n
-- Unassigned conversations per zone group, from the tallies.
SELECT g.id AS zone_group, g.zones, t.n
FROM (SELECT zone_group, sum(n)::bigint AS n FROM campaign_tally
      WHERE campaign_id = :campaign_id AND assignee_id IS NULL
        AND counted IN ('not_started', 'needs_reply')
      GROUP BY zone_group
      HAVING sum(n) > 0) t
JOIN zone_group g ON g.id = t.zone_group
ORDER BY g.id;

-- Pages of conversations, one statement per filter shape (conversation_pages.py chooses): each
-- has the equality its index needs, so the generic plan Postgres may cache uses that index too.
-- The optional status filters ride on the rows that index gives.

-- name: page_of_holder :many --
-- A texter's conversations (:assignee_id), in id order after :after_id: all they hold in the campaign, from
-- conversation_assignee, then sorted, so it costs what the texter holds (an inbox has an index
-- of its own: page_of_inbox). MATERIALIZED keeps the generic plan from walking a campaign-wide
-- index in id order instead, which for a texter holding nothing reads the whole campaign. The
-- page is cut before the contacts are joined, so only its own :limit contacts are looked up, not
-- one per conversation held (37,245 buffers against 1,445 for a texter holding 9,000, measured).
-- The limit stays outside the CTE: inside it, the generic plan walks the campaign in id order.
WITH held AS MATERIALIZED (
    SELECT id, contact_id, status, assignee_id, needs_reply_since FROM conversation
    WHERE assignee_id = :assignee_id AND campaign_id = :campaign_id AND id > :after_id
      AND (:status?::text IS NULL OR status = :status?)
), page AS (
    SELECT * FROM held ORDER BY id LIMIT :limit
)
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM page v JOIN contact k ON k.id = v.contact_id
ORDER BY v.id;

-- name: page_of_inbox :many --
-- A texter's inbox (:assignee_id): their conversations but those that only wait for the contact. The
-- literal status test is what lets Postgres use conversation_inbox_page.
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.assignee_id = :assignee_id AND v.campaign_id = :campaign_id AND v.id > :after_id
  AND v.status <> 'awaiting_reply'
  AND (:status?::text IS NULL OR v.status = :status?)
ORDER BY v.id
LIMIT :limit;

-- name: page_of_unassigned :many --
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.assignee_id IS NULL AND v.campaign_id = :campaign_id AND v.id > :after_id
  AND (:status?::text IS NULL OR v.status = :status?)
ORDER BY v.id
LIMIT :limit;

-- name: page_of_campaign :many --
-- A moderator's list of the whole campaign: no index of its own (every claim would pay for it),
-- so a page may read much of the campaign.
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.campaign_id = :campaign_id AND v.id > :after_id
ORDER BY v.id
LIMIT :limit;

-- name: page_of_campaign_in_status :many --
-- A moderator's view of the campaign by :status: conversation_campaign_status (migration 0022)
-- gives its rows of that status in id order from the cursor, so a page reads what it returns.
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.campaign_id = :campaign_id AND v.status = :status AND v.id > :after_id
ORDER BY v.id
LIMIT :limit;

-- name: clear_campaign_removals :exec --
-- People an admin adds back to campaign :campaign_id (:user_ids) are no longer kept off it.
DELETE FROM removal WHERE campaign_id = :campaign_id AND user_id = ANY(:user_ids::bigint[]);

-- name: kept_off :scalar --
-- Whether user :texter_id was taken out of organization :org_id, or off its campaign :campaign_id (table removal).
SELECT EXISTS (
    SELECT 1 FROM removal
    WHERE org_id = :org_id AND user_id = :texter_id AND (campaign_id IS NULL OR campaign_id = :campaign_id)
);
