-- A request for conversations that names no campaign (services/assigner/campaign_pick.py,
-- issue #33).

-- name: candidate_campaigns :many --
-- not null: id, org_id, texting_hours_start, texting_hours_end, closing_margin_minutes, pooled_groups
-- The campaigns texter :texter_id may be handed a batch of kind :kind from without naming one: active,
-- self-assignment on, in an organization of theirs, limited to one of their teams or counting
-- them among their texters, not one they were taken off, and whose team (of theirs, the highest
-- priority) takes this kind. Each with the zone groups whose pool of kind :kind (:pool_counted: not_started
-- or needs_reply) holds conversations, from the tallies (migration 0011). Highest team priority
-- first (none of their teams: last), then the oldest campaign.
SELECT c.id, c.org_id, c.texting_hours_start, c.texting_hours_end, c.closing_margin_minutes,
       c.fallback_zone, p.priority,
       ARRAY(SELECT g.zone_group FROM campaign_tally g
             WHERE g.campaign_id = c.id AND g.assignee_id IS NULL AND g.counted = :pool_counted
             GROUP BY g.zone_group HAVING sum(g.n) > 0 ORDER BY g.zone_group) AS pooled_groups
FROM organization_member om
JOIN campaign c ON c.org_id = om.org_id
LEFT JOIN LATERAL (
    SELECT tm.assignment_priority AS priority, tm.assignment_kind AS kind
    FROM campaign_team ct
    JOIN team_member m ON m.team_id = ct.team_id AND m.user_id = :texter_id
    JOIN team tm ON tm.id = ct.team_id
    WHERE ct.campaign_id = c.id
    ORDER BY tm.assignment_priority DESC, tm.id
    LIMIT 1
) p ON true
WHERE om.user_id = :texter_id AND c.status = 'active' AND c.self_assign
  AND (p.priority IS NOT NULL
       OR EXISTS (SELECT 1 FROM campaign_texter t WHERE t.campaign_id = c.id AND t.user_id = :texter_id))
  AND coalesce(p.kind, 'both') IN ('both', :kind::text)
  AND NOT EXISTS (SELECT 1 FROM removal r
                  WHERE r.org_id = c.org_id AND r.user_id = :texter_id AND r.campaign_id = c.id)
ORDER BY p.priority DESC NULLS LAST, c.created_at, c.id;

-- name: enroll :exec --
-- Texter :texter_id on campaign :campaign_id picked for them, when their batch is claimed (a texter already is
-- left as they joined): a member of its organization, through one of its teams they are in,
-- and not if they were taken off it (table removal) since the pick or the request, as
-- candidate_campaigns asks.
INSERT INTO campaign_texter (campaign_id, user_id, joined_via)
SELECT c.id, :texter_id, 'team' FROM campaign c
JOIN organization_member om ON om.org_id = c.org_id AND om.user_id = :texter_id
WHERE c.id = :campaign_id
  AND EXISTS (SELECT 1 FROM campaign_team ct
              JOIN team_member m ON m.team_id = ct.team_id AND m.user_id = :texter_id
              WHERE ct.campaign_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM removal r
                  WHERE r.org_id = c.org_id AND r.user_id = :texter_id AND r.campaign_id = c.id)
ON CONFLICT DO NOTHING;
