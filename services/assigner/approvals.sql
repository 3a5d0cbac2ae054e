-- Assignment requests that wait for approval (services/assigner/approvals.py, issue #33).

-- name: request_gate --
-- What a Request Conversations needs to know before any claim: the caller's ($2) request level
-- in the campaign's ($1) organization (NULL: not a member), whether they text on it, the
-- campaign's state, and the batch kind their team on it takes (as claims.sql texters_pending:
-- of the campaign's teams they are in, the highest priority's; NULL: none). No row: no such
-- campaign.
SELECT c.id, c.org_id, c.status, c.self_assign, m.request_level,
       EXISTS (SELECT 1 FROM campaign_texter t WHERE t.campaign_id = c.id AND t.user_id = $2)
           AS is_texter,
       (SELECT tm.assignment_kind
        FROM campaign_team ct
        JOIN team_member tmm ON tmm.team_id = ct.team_id AND tmm.user_id = $2
        JOIN team tm ON tm.id = ct.team_id
        WHERE ct.campaign_id = c.id
        ORDER BY tm.assignment_priority DESC, tm.id
        LIMIT 1) AS team_assignment_kind
FROM campaign c
LEFT JOIN organization_member m ON m.org_id = c.org_id AND m.user_id = $2
WHERE c.id = $1;

-- name: open_request --
-- A new waiting request of texter $3 on campaign $2 (organization $1); no row when one of
-- theirs already waits in that organization.
INSERT INTO assignment_request (org_id, campaign_id, texter_id, kind)
VALUES ($1, $2, $3, $4)
ON CONFLICT (org_id, texter_id) WHERE status = 'pending' DO NOTHING
RETURNING *;

-- name: waiting_request --
SELECT id FROM assignment_request WHERE org_id = $1 AND texter_id = $2 AND status = 'pending';

-- name: resolve_lock --
-- Held (on the resolving connection, across the approval's commit, the claim and the outcome's
-- commit) so two moderators resolving one request take turns: the second sees the outcome.
SELECT pg_advisory_lock(hashtextextended('assignment_request:' || $1::bigint, 0));

-- name: resolve_unlock --
SELECT pg_advisory_unlock(hashtextextended('assignment_request:' || $1::bigint, 0));

-- name: request_for_update --
SELECT * FROM assignment_request WHERE id = $1 FOR UPDATE;

-- name: set_status --
-- Request $1 from status $2 to $3, with the batch ($4), the refusal ($5) and its details ($7,
-- JSON text) and who resolved it ($6, kept when NULL). No row: it was not in status $2.
UPDATE assignment_request
SET status = $3, conversation_ids = $4, refusal = $5, refusal_details = $7::jsonb,
    resolved_by = coalesce($6, resolved_by), updated_at = now()
WHERE id = $1 AND status = $2
RETURNING *;

-- name: record_transition --
INSERT INTO assignment_request_event (request_id, status, request_level, actor_id)
VALUES ($1, $2, $3, $4)
RETURNING id;

-- name: set_request_level --
UPDATE organization_member SET request_level = $3 WHERE org_id = $1 AND user_id = $2;

-- name: requests_page --
-- Organization $1's requests after id $4, in id order: only status $2 and texter $3 unless NULL.
SELECT * FROM assignment_request
WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR texter_id = $3)
  AND id > $4
ORDER BY id
LIMIT $5;

-- name: cancel_waiting --
-- Close the waiting requests of texters $2 in organization $1 (only those on campaign $3 unless
-- NULL): their reason went away ($4: why), by actor $5.
UPDATE assignment_request
SET status = 'cancelled', refusal = $4, resolved_by = $5, updated_at = now()
WHERE org_id = $1 AND texter_id = ANY($2::bigint[]) AND status = 'pending'
  AND ($3::bigint IS NULL OR campaign_id = $3)
RETURNING *;
