-- The assigner's named queries. Time comparisons take an injectable now: coalesce($n, now()).

-- name: org_exists --
SELECT id FROM organization WHERE id = $1 FOR UPDATE;

-- name: org_member_count --
SELECT count(*) FROM organization_member WHERE org_id = $1;

-- name: create_org --
INSERT INTO organization (name, default_batch_size) VALUES ($1, $2) RETURNING id;

-- name: org_for_update --
SELECT id, default_batch_size, opt_out_confirmation FROM organization WHERE id = $1 FOR UPDATE;

-- name: org --
SELECT id, default_batch_size, opt_out_confirmation FROM organization WHERE id = $1;

-- name: save_org --
UPDATE organization SET default_batch_size = $2, opt_out_confirmation = $3 WHERE id = $1;

-- name: user_exists --
SELECT EXISTS (SELECT 1 FROM app_user WHERE id = $1);

-- name: create_user --
INSERT INTO app_user (name) VALUES ($1) RETURNING id;

-- name: add_org_member --
INSERT INTO organization_member (org_id, user_id, role) VALUES ($1, $2, $3);

-- name: create_team --
INSERT INTO team (org_id, name) VALUES ($1, $2)
ON CONFLICT (org_id, name) DO NOTHING
RETURNING id;

-- name: org_teams_named --
-- Of the team ids $2, those of organization $1.
SELECT id FROM team WHERE org_id = $1 AND id = ANY($2::bigint[]);

-- name: set_campaign_teams --
-- Campaign $1 limited to teams $2 exactly, and `team_id` the first of them for the previous
-- release's code (migration 0018).
WITH gone AS (
    DELETE FROM campaign_team WHERE campaign_id = $1 AND team_id <> ALL($2::bigint[])
), added AS (
    INSERT INTO campaign_team (campaign_id, team_id)
    SELECT $1, t FROM unnest($2::bigint[]) AS t
    ON CONFLICT DO NOTHING
)
UPDATE campaign SET team_id = $2[1] WHERE id = $1;

-- name: team_for_update --
SELECT * FROM team WHERE id = $1 FOR UPDATE;

-- name: save_team --
UPDATE team SET assignment_priority = $2, assignment_kind = $3, max_request_size = $4
WHERE id = $1
RETURNING *;

-- name: non_members --
-- The ids in $2 that are not members of organization $1.
SELECT u.id FROM unnest($2::bigint[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM organization_member m WHERE m.org_id = $1 AND m.user_id = u.id)
ORDER BY u.id;

-- name: add_team_members --
INSERT INTO team_member (team_id, user_id)
SELECT $1, u FROM unnest($2::bigint[]) AS u
ON CONFLICT DO NOTHING;

-- name: org_default_batch_size --
SELECT coalesce(default_batch_size, 300) FROM organization WHERE id = $1;

-- name: create_campaign --
INSERT INTO campaign (org_id, team_id, title, batch_size, texting_hours_start, texting_hours_end,
                      sending_number)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: campaign --
SELECT id, org_id, team_id, title, status, self_assign, batch_size, replies_batch_size,
       require_replies_handled, release_unhandled_after_minutes, texting_hours_start,
       texting_hours_end, closing_margin_minutes, fallback_zone, sending_number,
       ARRAY(SELECT team_id FROM campaign_team WHERE campaign_id = $1 ORDER BY team_id)
           AS team_ids
FROM campaign WHERE id = $1;

-- name: campaign_for_update --
SELECT id, org_id, team_id, title, status, self_assign, batch_size, replies_batch_size,
       require_replies_handled, release_unhandled_after_minutes, texting_hours_start,
       texting_hours_end, closing_margin_minutes, fallback_zone, sending_number,
       ARRAY(SELECT team_id FROM campaign_team WHERE campaign_id = $1 ORDER BY team_id)
           AS team_ids
FROM campaign WHERE id = $1 FOR UPDATE;

-- name: save_campaign --
UPDATE campaign SET status = $2, self_assign = $3, batch_size = $4, replies_batch_size = $5,
       require_replies_handled = $6, release_unhandled_after_minutes = $7,
       texting_hours_start = $8, texting_hours_end = $9, sending_number = $10,
       closing_margin_minutes = $11, fallback_zone = $12, updated_at = now()
WHERE id = $1;

-- name: add_texters --
INSERT INTO campaign_texter (campaign_id, user_id, joined_via)
SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
ON CONFLICT DO NOTHING;

-- name: is_texter --
SELECT EXISTS (SELECT 1 FROM campaign_texter WHERE campaign_id = $1 AND user_id = $2);

-- name: create_invite --
INSERT INTO invite_link (token, campaign_id, kind, created_by) VALUES ($1, $2, $3, $4);

-- name: invite --
SELECT i.token, i.campaign_id, i.kind, i.revoked_at, c.org_id, c.team_id
FROM invite_link i JOIN campaign c ON c.id = i.campaign_id
WHERE i.token = $1;

-- name: revoke_invite --
UPDATE invite_link SET revoked_at = now() WHERE token = $1 AND revoked_at IS NULL;

-- name: add_team_member --
INSERT INTO team_member (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: opted_out_phones --
SELECT phone FROM opt_out WHERE org_id = $1 AND phone = ANY($2::text[]);

-- name: create_import_staging --
-- Rows arrive by COPY into this per-transaction table, then go in with one INSERT ... SELECT.
CREATE TEMP TABLE contact_import (
    phone      text NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    fields     jsonb NOT NULL,
    timezone   text
) ON COMMIT DROP;

-- name: import_contacts --
-- Insert the staged contacts and one Unassigned not_started conversation each; rows whose phone
-- the campaign already has are skipped and reported by the caller as duplicates.
WITH inserted AS (
    INSERT INTO contact (campaign_id, phone, first_name, last_name, fields, timezone)
    SELECT $1, phone, first_name, last_name, fields, timezone FROM contact_import
    ON CONFLICT (campaign_id, phone) DO NOTHING
    RETURNING id, phone, timezone
), conversations AS (
    -- The zone group from the contact's row at hand (the insert trigger would read it again).
    INSERT INTO conversation (campaign_id, contact_id, zone_group)
    SELECT $1, id, contact_zone_group(timezone, phone) FROM inserted
)
SELECT phone FROM inserted;

-- name: stats_by_status --
-- From the tallies (migration 0011): a few rows per texter, whatever the campaign's size.
SELECT counted AS status, assignee_id, sum(n)::bigint AS n
FROM campaign_tally
WHERE campaign_id = $1 AND counted <> 'failed_initials'
GROUP BY counted, assignee_id
HAVING sum(n) <> 0;

-- name: failed_initials --
SELECT coalesce(sum(n), 0)::bigint FROM campaign_tally
WHERE campaign_id = $1 AND counted = 'failed_initials';

-- name: unassigned_by_zone_group --
-- Unassigned conversations per zone group, from the tallies.
SELECT g.id AS zone_group, g.zones, t.n
FROM (SELECT zone_group, sum(n)::bigint AS n FROM campaign_tally
      WHERE campaign_id = $1 AND assignee_id IS NULL
        AND counted IN ('not_started', 'needs_reply')
      GROUP BY zone_group
      HAVING sum(n) > 0) t
JOIN zone_group g ON g.id = t.zone_group
ORDER BY g.id;

-- Pages of conversations, one statement per filter shape (conversation_pages.py chooses): each
-- has the equality its index needs, so the generic plan Postgres may cache uses that index too.
-- The optional status filters ride on the rows that index gives.

-- name: page_of_holder --
-- A texter's conversations ($3), in id order after $2: all they hold in the campaign, from
-- conversation_assignee, then sorted, so it costs what the texter holds (an inbox has an index
-- of its own: page_of_inbox). MATERIALIZED keeps the generic plan from walking a campaign-wide
-- index in id order instead, which for a texter holding nothing reads the whole campaign.
WITH held AS MATERIALIZED (
    SELECT id, contact_id, status, assignee_id, needs_reply_since FROM conversation
    WHERE assignee_id = $3 AND campaign_id = $1 AND id > $2
      AND ($4::text IS NULL OR status = $4)
)
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM held v JOIN contact k ON k.id = v.contact_id
ORDER BY v.id
LIMIT $5;

-- name: page_of_inbox --
-- A texter's inbox ($3): their conversations but those that only wait for the contact. The
-- literal status test is what lets Postgres use conversation_inbox_page.
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.assignee_id = $3 AND v.campaign_id = $1 AND v.id > $2
  AND v.status <> 'awaiting_reply'
  AND ($4::text IS NULL OR v.status = $4)
ORDER BY v.id
LIMIT $5;

-- name: page_of_unassigned --
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.assignee_id IS NULL AND v.campaign_id = $1 AND v.id > $2
  AND ($3::text IS NULL OR v.status = $3)
ORDER BY v.id
LIMIT $4;

-- name: page_of_campaign --
-- A moderator's list of the whole campaign: no index of its own (every claim would pay for it),
-- so a page may read much of the campaign.
SELECT v.id, v.contact_id, v.status, v.assignee_id, v.needs_reply_since, k.first_name, k.last_name,
       k.phone
FROM conversation v JOIN contact k ON k.id = v.contact_id
WHERE v.campaign_id = $1 AND v.id > $2
  AND ($3::text IS NULL OR v.status = $3)
ORDER BY v.id
LIMIT $4;

-- name: clear_campaign_removals --
-- People an admin adds back to campaign $1 ($2) are no longer kept off it.
DELETE FROM removal WHERE campaign_id = $1 AND user_id = ANY($2::bigint[]);

-- name: kept_off --
-- Whether user $2 was taken out of organization $1, or off its campaign $3 (table removal).
SELECT EXISTS (
    SELECT 1 FROM removal
    WHERE org_id = $1 AND user_id = $2 AND (campaign_id IS NULL OR campaign_id = $3)
);
