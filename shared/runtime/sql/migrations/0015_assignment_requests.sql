-- Assignment requests that wait for approval (issue #33, Spoke Rewired's
-- `user_organization.request_status` and `assignment_request`).
--
-- Expand-only: a column with a constant default (no table rewrite; the previous release's
-- inserts into organization_member leave it at `auto_approve`, which is that release's
-- behaviour), and two new tables the previous release neither reads nor writes.

-- What happens when this member presses Request Conversations: a batch at once (auto_approve),
-- a request waiting for a moderator (approval_required), or a refusal (do_not_approve).
ALTER TABLE organization_member ADD COLUMN request_level text NOT NULL DEFAULT 'auto_approve'
    CHECK (request_level IN ('auto_approve', 'approval_required', 'do_not_approve'));

-- One request of a texter who needs approval. pending -> rejected, or pending -> approved ->
-- fulfilled (the batch claimed: `conversation_ids`) or unfulfilled (a claim rule refused it:
-- `refusal`, an error code). `approved` alone is the moment between the approval's commit and
-- the claim's: a crash there leaves it approved, and approving again claims (the claim rules
-- refuse a texter who already holds a batch, so it is never handed out twice).
CREATE TABLE assignment_request (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES organization (id),
    campaign_id      bigint NOT NULL REFERENCES campaign (id),
    texter_id        bigint NOT NULL REFERENCES app_user (id),
    kind             text NOT NULL CHECK (kind IN ('initials', 'replies')),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'approved', 'rejected', 'fulfilled',
                                       'unfulfilled')),
    conversation_ids bigint[] NOT NULL DEFAULT '{}',
    refusal          text,
    resolved_by      bigint REFERENCES app_user (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One waiting request per texter and organization: a second is refused `request_pending`.
CREATE UNIQUE INDEX assignment_request_waiting ON assignment_request (org_id, texter_id)
    WHERE status = 'pending';
-- The moderators' list (by status, oldest first) and a texter's own.
CREATE INDEX assignment_request_org ON assignment_request (org_id, status, id);
CREATE INDEX assignment_request_texter ON assignment_request (texter_id, org_id, id);

-- Every transition of every request, with who made it. Append-only.
CREATE TABLE assignment_request_event (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    bigint NOT NULL REFERENCES assignment_request (id),
    status        text NOT NULL,
    -- The texter's request level when this transition set it (a resolve may), else NULL.
    request_level text,
    actor_id      bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignment_request_event_request ON assignment_request_event (request_id, id);

CREATE FUNCTION assignment_request_event_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'assignment_request_event is append-only';
END;
$$;
CREATE TRIGGER assignment_request_event_append_only
    BEFORE UPDATE OR DELETE ON assignment_request_event
    FOR EACH ROW EXECUTE FUNCTION assignment_request_event_is_append_only();
