-- Baton's schema. Postgres is the source of truth; NATS only carries requests and events.

CREATE TABLE organization (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Self-assign batch size for campaigns created from now on; NULL means the product default, 300.
    default_batch_size integer CHECK (default_batch_size BETWEEN 1 AND 5000),
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_user (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organization_member (
    org_id     bigint NOT NULL REFERENCES organization (id),
    user_id    bigint NOT NULL REFERENCES app_user (id),
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'texter')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX organization_member_user ON organization_member (user_id);

CREATE TABLE team (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint NOT NULL REFERENCES organization (id),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

CREATE TABLE team_member (
    team_id    bigint NOT NULL REFERENCES team (id),
    user_id    bigint NOT NULL REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE campaign (
    id                              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id                          bigint NOT NULL REFERENCES organization (id),
    team_id                         bigint REFERENCES team (id),
    title                           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    status                          text NOT NULL DEFAULT 'draft'
                                    CHECK (status IN ('draft', 'active', 'archived')),
    self_assign                     boolean NOT NULL DEFAULT false,
    -- Copied from the organization's default when the campaign is created (seed 001).
    batch_size                      integer NOT NULL CHECK (batch_size BETWEEN 1 AND 5000),
    replies_batch_size              integer NOT NULL DEFAULT 300
                                    CHECK (replies_batch_size BETWEEN 1 AND 5000),
    require_replies_handled         boolean NOT NULL DEFAULT false,
    -- NULL: Release Unhandled Replies is off.
    release_unhandled_after_minutes integer CHECK (release_unhandled_after_minutes > 0),
    -- Hours of the contact's local day in which texts may go out: [start, end).
    texting_hours_start             smallint NOT NULL DEFAULT 9
                                    CHECK (texting_hours_start BETWEEN 0 AND 23),
    texting_hours_end               smallint NOT NULL DEFAULT 21
                                    CHECK (texting_hours_end BETWEEN 1 AND 24),
    -- The number contacts text back to; inbound replies are matched by it.
    sending_number                  text,
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now(),
    CHECK (texting_hours_start < texting_hours_end)
);
CREATE INDEX campaign_org ON campaign (org_id);
CREATE INDEX campaign_release_on ON campaign (id) WHERE release_unhandled_after_minutes IS NOT NULL;

CREATE TABLE campaign_texter (
    campaign_id bigint NOT NULL REFERENCES campaign (id),
    user_id     bigint NOT NULL REFERENCES app_user (id),
    joined_via  text NOT NULL DEFAULT 'admin' CHECK (joined_via IN ('admin', 'invite')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, user_id)
);
CREATE INDEX campaign_texter_user ON campaign_texter (user_id);

CREATE TABLE invite_link (
    token       text PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign (id),
    kind        text NOT NULL CHECK (kind IN ('initials', 'replies')),
    created_by  bigint NOT NULL REFERENCES app_user (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE contact (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign (id),
    phone       text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    first_name  text NOT NULL DEFAULT '',
    last_name   text NOT NULL DEFAULT '',
    fields      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- IANA zone; NULL means "derive it from the phone number's region".
    timezone    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone)
);
-- Inbound replies are matched by the contact's number.
CREATE INDEX contact_phone ON contact (phone);

CREATE TABLE conversation (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id       bigint NOT NULL REFERENCES campaign (id),
    contact_id        bigint NOT NULL UNIQUE REFERENCES contact (id),
    status            text NOT NULL DEFAULT 'not_started'
                      CHECK (status IN ('not_started', 'awaiting_reply', 'needs_reply',
                                        'replied', 'closed')),
    -- NULL is "Unassigned".
    assignee_id       bigint REFERENCES app_user (id),
    -- The release clock: set when the contact's reply arrives, cleared when we answer. Never
    -- derived from updated_at, which any edit bumps (Spoke's mistake).
    needs_reply_since timestamptz,
    assigned_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'needs_reply') = (needs_reply_since IS NOT NULL))
);
-- The self-assignment pools: only Unassigned rows of each kind, in hand-out order.
CREATE INDEX conversation_pool_initials ON conversation (campaign_id, id)
    WHERE assignee_id IS NULL AND status = 'not_started';
CREATE INDEX conversation_pool_replies ON conversation (campaign_id, needs_reply_since, id)
    WHERE assignee_id IS NULL AND status = 'needs_reply';
-- A texter's own conversations (inbox, pending-initials and pending-replies checks, reassign).
CREATE INDEX conversation_assignee ON conversation (assignee_id, campaign_id, status)
    WHERE assignee_id IS NOT NULL;
-- The reaper: assigned replies waiting, oldest first.
CREATE INDEX conversation_unhandled ON conversation (campaign_id, needs_reply_since)
    WHERE assignee_id IS NOT NULL AND status = 'needs_reply';
-- Campaign-wide listings and counts by status.
CREATE INDEX conversation_campaign_status ON conversation (campaign_id, status);

CREATE TABLE message (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id     bigint NOT NULL REFERENCES conversation (id),
    direction           text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    kind                text NOT NULL CHECK (kind IN ('initial', 'reply', 'contact')),
    texter_id           bigint REFERENCES app_user (id),
    body                text NOT NULL,
    idempotency_key     text,
    provider_message_id text,
    delivery_status     text NOT NULL
                        CHECK (delivery_status IN ('queued', 'sent', 'delivered', 'failed',
                                                   'received')),
    error_code          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_conversation ON message (conversation_id, id);
-- Exactly once: a retried send and a redelivered reply each find the first row.
CREATE UNIQUE INDEX message_idempotency ON message (texter_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX message_provider_id ON message (direction, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Numbers that said STOP: never texted again by any campaign of the organization.
CREATE TABLE opt_out (
    org_id     bigint NOT NULL REFERENCES organization (id),
    phone      text NOT NULL,
    source     text NOT NULL DEFAULT 'reply',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, phone)
);

-- Replies from numbers Baton cannot match: kept, never dropped.
CREATE TABLE unmatched_inbound (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_message_id text NOT NULL UNIQUE,
    from_phone          text NOT NULL,
    to_phone            text NOT NULL,
    body                text NOT NULL,
    received_at         timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- Every move of every conversation: who, from whom, to whom, why, when. Append-only.
-- No foreign keys: every row is written by the same statement that moves the conversation, from
-- ids that statement just read, so they cannot dangle; six FK checks per row cost a 300-row claim
-- about 5 ms, a third of its time.
CREATE TABLE assignment_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation_id    uuid NOT NULL,
    campaign_id     bigint NOT NULL,
    conversation_id bigint NOT NULL,
    from_texter_id  bigint,
    to_texter_id    bigint,
    reason          text NOT NULL CHECK (reason IN ('self_assign', 'join', 'reassign', 'move',
                                                    'unassign', 'unhandled_timeout', 'release',
                                                    'done_texting', 'stale_initials')),
    actor_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (from_texter_id IS DISTINCT FROM to_texter_id)
);
CREATE INDEX assignment_event_conversation ON assignment_event (conversation_id, id);
CREATE INDEX assignment_event_operation ON assignment_event (operation_id);

CREATE FUNCTION assignment_event_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'assignment_event is append-only';
END;
$$;
CREATE TRIGGER assignment_event_append_only
    BEFORE UPDATE OR DELETE ON assignment_event
    FOR EACH ROW EXECUTE FUNCTION assignment_event_is_append_only();

-- Events and outbound messages written in the same transaction as the change they describe,
-- then published to JetStream; a row is marked published only after the PubAck.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject      text NOT NULL,
    -- Sent as Nats-Msg-Id so a republish after a crash is deduplicated by the stream.
    msg_id       text NOT NULL UNIQUE,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- A publisher leases rows so replicas do not publish the same row at once; a lease that
    -- expires (the publisher died) lets another take over.
    lease_until  timestamptz,
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
