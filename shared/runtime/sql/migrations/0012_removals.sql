-- Who was taken out of an organization or off a campaign, so an invite link does not bring
-- them back (found by the outside review of issue #30: `baton.assign.join` made anyone who was
-- not a member a texter again, with a first batch). A row with no campaign is a removal from
-- the whole organization. An admin adding someone back to a campaign clears that campaign's row.
-- Expand-only: a new table; the previous release neither reads nor writes it.
CREATE TABLE removal (
    org_id      bigint      NOT NULL REFERENCES organization (id),
    user_id     bigint      NOT NULL REFERENCES app_user (id),
    campaign_id bigint      REFERENCES campaign (id),
    removed_by  bigint      REFERENCES app_user (id),
    removed_at  timestamptz NOT NULL DEFAULT now()
);
-- One row per person and place: the organization (no campaign), or one campaign.
CREATE UNIQUE INDEX removal_once ON removal (org_id, user_id, coalesce(campaign_id, 0));
