-- Teams that decide how their texters are handed conversations (issue #33, Spoke Rewired's
-- team `assignment_priority`, `assignment_type`, `max_request_count`): the kind of batch a
-- campaign limited to the team hands out, and the largest batch. `assignment_priority` orders
-- the teams' campaigns for requests that name none (not used yet by this release).
-- Expand-only: columns with constant defaults that keep today's behaviour (both kinds, no
-- limit beyond the campaign's batch size); the previous release neither reads nor writes them.
ALTER TABLE team
    ADD COLUMN assignment_priority integer NOT NULL DEFAULT 0
        CHECK (assignment_priority BETWEEN -1000000 AND 1000000),
    ADD COLUMN assignment_kind text NOT NULL DEFAULT 'both'
        CHECK (assignment_kind IN ('initials', 'replies', 'both')),
    ADD COLUMN max_request_size integer CHECK (max_request_size BETWEEN 1 AND 5000);

-- A campaign limited to several teams: `campaign_team` replaces `campaign.team_id`, by expand
-- and contract. This release (expand) reads the teams from `campaign_team` and still writes
-- `campaign.team_id` (the first of them) for the previous release's code, whose invite links
-- add a joiner to that team; the previous release writes only `team_id`, at a campaign's
-- creation, and the trigger mirrors it here. The next release (contract) drops the column and
-- the trigger, once no code of this one runs.
CREATE TABLE campaign_team (
    campaign_id bigint NOT NULL REFERENCES campaign (id),
    team_id     bigint NOT NULL REFERENCES team (id),
    PRIMARY KEY (campaign_id, team_id)
);
CREATE INDEX campaign_team_team ON campaign_team (team_id);
INSERT INTO campaign_team (campaign_id, team_id)
SELECT id, team_id FROM campaign WHERE team_id IS NOT NULL;

CREATE FUNCTION campaign_team_from_team_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_team (campaign_id, team_id) VALUES (NEW.id, NEW.team_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER campaign_team_from_team_id
    AFTER INSERT OR UPDATE OF team_id ON campaign
    FOR EACH ROW WHEN (NEW.team_id IS NOT NULL) EXECUTE FUNCTION campaign_team_from_team_id();

-- Who joined a campaign by asking for conversations without naming one (a team's campaign
-- picked for them). The previous release never writes it.
ALTER TABLE campaign_texter DROP CONSTRAINT campaign_texter_joined_via_check;
ALTER TABLE campaign_texter ADD CONSTRAINT campaign_texter_joined_via_check
    CHECK (joined_via IN ('admin', 'invite', 'team'));
