-- Assignment requests that wait for approval (services/assigner/approvals.py, issue #33).

-- name: request_gate :maybe --
-- not null: id, org_id, status, self_assign, is_texter
-- What a Request Conversations needs to know before any claim: the caller's (:texter_id) request level
-- in the campaign's (:campaign_id) organization (NULL: not a member), whether they text on it, the
-- campaign's state, and the batch kind their team on it takes (as claims.sql texters_pending:
-- of the campaign's teams they are in, the highest priority's; NULL: none). No row: no such
-- campaign.
SELECT c.id, c.org_id, c.status, c.self_assign, m.request_level,
       EXISTS (SELECT 1 FROM campaign_texter t WHERE t.campaign_id = c.id AND t.user_id = :texter_id)
           AS is_texter,
       (SELECT tm.assignment_kind
        FROM campaign_team ct
        JOIN team_member tmm ON tmm.team_id = ct.team_id AND tmm.user_id = :texter_id
        JOIN team tm ON tm.id = ct.team_id
        WHERE ct.campaign_id = c.id
        ORDER BY tm.assignment_priority DESC, tm.id
        LIMIT 1) AS team_assignment_kind
FROM campaign c
LEFT JOIN organization_member m ON m.org_id = c.org_id AND m.user_id = :texter_id
WHERE c.id = :campaign_id;

-- name: open_request :maybe --
-- A new waiting request of texter :texter_id on campaign :campaign_id (organization :org_id); no row when one of
-- theirs already waits in that organization.
INSERT INTO assignment_request (org_id, campaign_id, texter_id, kind)
VALUES (:org_id, :campaign_id, :texter_id, :kind)
ON CONFLICT (org_id, texter_id) WHERE status = 'pending' DO NOTHING
RETURNING *;

-- name: waiting_request :scalar --
SELECT id FROM assignment_request WHERE org_id = :org_id AND texter_id = :texter_id AND status = 'pending';

-- name: resolve_lock :exec --
-- Held (on the resolving connection, across the approval's commit, the claim and the outcome's
-- commit) so two moderators resolving one request take turns: the second sees the outcome.
SELECT pg_advisory_lock(hashtextextended('assignment_request:' || :request_id::bigint, 0));

-- name: resolve_unlock :exec --
SELECT pg_advisory_unlock(hashtextextended('assignment_request:' || :request_id::bigint, 0));

-- name: request_for_update :maybe --
SELECT * FROM assignment_request WHERE id = :request_id FOR UPDATE;

-- name: set_status :maybe --
-- Request :request_id from status :from_status to :to_status, with the batch (:conversation_ids), the refusal (:refusal) and its details (:refusal_details,
-- JSON text) and who resolved it (:resolved_by, kept when NULL). No row: it was not in status :from_status.
UPDATE assignment_request
SET status = :to_status, conversation_ids = :conversation_ids, refusal = :refusal?, refusal_details = :refusal_details?::jsonb,
    resolved_by = coalesce(:resolved_by?, resolved_by), updated_at = now()
WHERE id = :request_id AND status = :from_status
RETURNING *;

-- name: record_transition :scalar --
-- not null: id
INSERT INTO assignment_request_event (request_id, status, request_level, actor_id)
VALUES (:request_id, :status, :level?, :actor_id?)
RETURNING id;

-- name: set_request_level :exec --
UPDATE organization_member SET request_level = :level WHERE org_id = :org_id AND user_id = :texter_id;

-- name: requests_page :many --
-- Organization :org_id's requests after id :after_id, in id order: only status :status and texter :texter_id unless NULL.
SELECT * FROM assignment_request
WHERE org_id = :org_id AND (:status?::text IS NULL OR status = :status?) AND (:texter_id?::bigint IS NULL OR texter_id = :texter_id?)
  AND id > :after_id
ORDER BY id
LIMIT :limit;

-- name: cancel_waiting :many --
-- Close the waiting requests of texters :texter_ids in organization :org_id (only those on campaign :campaign_id unless
-- NULL): their reason went away (:reason: why), by actor :actor_id.
UPDATE assignment_request
SET status = 'cancelled', refusal = :reason, resolved_by = :actor_id, updated_at = now()
WHERE org_id = :org_id AND texter_id = ANY(:texter_ids::bigint[]) AND status = 'pending'
  AND (:campaign_id?::bigint IS NULL OR campaign_id = :campaign_id?)
RETURNING *;
