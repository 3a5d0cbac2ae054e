-- The provider bridge's record of each text it hands to a provider (issue #31). Twilio's Messages
-- API takes no idempotency key, so the bridge writes this row BEFORE it calls the provider: a
-- bridge killed between the call and its ack finds the row on the redelivery and looks the text up
-- at the provider instead of sending it again (services/bridge/outbound.py, docs/reliability.md).
-- Kept in Postgres, not a JetStream KV bucket: Postgres is Baton's source of truth, the sender
-- already writes every text there, and a row lease with a unique key is one statement.
-- Expand-only: a new table; the previous release neither reads nor writes it.
CREATE TABLE bridge_attempt (
    -- One row per text, whoever takes it: two replicas never both call the provider for it.
    message_id          bigint PRIMARY KEY,
    provider            text        NOT NULL,
    account             text        NOT NULL,
    to_number           text        NOT NULL,
    -- The number it goes from; null when the provider picks (a Messaging Service).
    from_number         text,
    -- `begun`: a call was (or may have been) made, its answer unknown; `refused`: the provider
    -- answered that it did not take it (safe to try again); `sent`: accepted, with its id;
    -- `failed`: refused for good, with the provider's code.
    state               text        NOT NULL DEFAULT 'begun'
                        CHECK (state IN ('begun', 'refused', 'sent', 'failed')),
    -- `{provider}:{account}:{sid}`: the namespaced id Baton stores on the message.
    provider_message_id text,
    error_code          text,
    calls               integer     NOT NULL DEFAULT 0,
    -- The replica holding the text may call the provider until then; another waits.
    leased_until        timestamptz NOT NULL DEFAULT now(),
    first_call_at       timestamptz,
    last_call_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bridge_attempt_unresolved ON bridge_attempt (created_at) WHERE state = 'begun';
-- A status callback names the provider's id: it finds its text here, sent receipt or not.
CREATE UNIQUE INDEX bridge_attempt_provider_id ON bridge_attempt (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- What the providers' webhooks brought (contacts' texts, status callbacks), kept before the
-- webhook is answered 2xx: neither Twilio nor Telnyx retries for long, so a text must survive
-- JetStream being away. Forwarded to INBOUND in arrival order (id), each once, then deleted.
CREATE TABLE bridge_spool (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject             text        NOT NULL,
    -- The Nats-Msg-Id it is published with; a provider's second delivery of the same webhook
    -- (a retry, a replay) is kept once.
    msg_id              text        NOT NULL UNIQUE,
    payload             bytea       NOT NULL,
    -- A status callback's provider id: its text's message_id is added when it is forwarded.
    provider_message_id text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    leased_until        timestamptz NOT NULL DEFAULT '-infinity'
);

-- The numbers each provider account holds, as the bridge last read them from the provider
-- (services/bridge/numbers.py). While any account is listed here, baton.admin.org.numbers.add
-- takes only numbers one of them holds: no organization claims a number it does not have.
CREATE TABLE bridge_account (
    provider  text        NOT NULL,
    account   text        NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, account)
);
CREATE TABLE provider_number (
    phone    text NOT NULL,
    provider text NOT NULL,
    account  text NOT NULL,
    PRIMARY KEY (phone, provider, account),
    FOREIGN KEY (provider, account) REFERENCES bridge_account (provider, account)
);
