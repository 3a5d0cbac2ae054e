-- The bridge's named queries: its attempt records (migration 0013) and sending numbers' rates.

-- name: take_attempts :many --
-- Creates each text's attempt, or takes the lease on the one there is when it has run out (or the
-- attempt is settled: its receipt is only published again). A text with no row back: another
-- replica holds it now. A new row counts its first call already (one commit fewer per text):
-- whoever takes the text after a crash looks it up first, whether that call was made or not.
-- The texts taken at one moment share the statement (a group commit, as the sender's sends); the
-- rows are locked in message_id order, so two statements sharing a text wait, never deadlock.
-- `fresh`: the row was created just now (River's `xmax = 0`).
-- not null: message_id, fresh
INSERT INTO bridge_attempt AS a (message_id, provider, account, to_number, from_number,
                                 leased_until, calls, first_call_at, last_call_at)
SELECT t.message_id, :provider, :account, t.to_number, t.from_number,
       now() + make_interval(secs => :lease_seconds), 1, now(), now()
FROM unnest(:message_ids::bigint[], :to_numbers::text[], :from_numbers::text[])
     AS t(message_id, to_number, from_number)
ORDER BY t.message_id
ON CONFLICT (message_id) DO UPDATE
    SET leased_until = now() + make_interval(secs => :lease_seconds), updated_at = now()
    WHERE a.leased_until < now() OR a.state IN ('sent', 'failed')
RETURNING a.message_id, state, provider_message_id, error_code, calls, first_call_at,
          a.from_number, extract(epoch FROM now() - a.last_call_at)::float8 AS since_call,
          (xmax = 0) AS fresh;

-- name: mark_calling :scalar --
-- Recorded before each provider call: a call that may have been made is never forgotten.
UPDATE bridge_attempt
SET state = 'begun', calls = calls + 1, first_call_at = coalesce(first_call_at, now()),
    last_call_at = now(), updated_at = now()
WHERE message_id = :message_id AND state IN ('begun', 'refused')
RETURNING first_call_at;

-- name: mark_sent :exec --
-- The texts the provider accepted, each with its namespaced id; those answered at one moment
-- share the statement.
UPDATE bridge_attempt a
SET state = 'sent', provider_message_id = t.provider_message_id, error_code = NULL,
    updated_at = now()
FROM unnest(:message_ids::bigint[], :provider_message_ids::text[])
     AS t(message_id, provider_message_id)
WHERE a.message_id = t.message_id AND a.state IN ('begun', 'refused');

-- name: mark_refused :exec --
-- The provider answered and did not take the text (429, 5xx): a later call cannot double it.
UPDATE bridge_attempt
SET state = 'refused', error_code = :code, leased_until = now(), updated_at = now()
WHERE message_id = :message_id AND state = 'begun';

-- name: mark_failed :exec --
UPDATE bridge_attempt
SET state = 'failed', error_code = :code, updated_at = now()
WHERE message_id = :message_id AND state IN ('begun', 'refused');

-- name: release_lease :exec --
-- The call's answer is unknown (a timeout, a lost connection): the row stays `begun`, and whoever
-- takes the text next looks it up at the provider first.
UPDATE bridge_attempt SET leased_until = now(), updated_at = now() WHERE message_id = :message_id;

-- name: number_rates :many --
-- Sending numbers with a rate of their own (migration 0014); the rest go at the default rate.
-- not null: rate_per_second
SELECT phone, rate_per_second FROM sending_number WHERE rate_per_second IS NOT NULL;

-- name: org_numbers_held :one --
-- The organization's sending numbers that this provider account holds, for a text with no number
-- of its own and no Messaging Service to pick one (docs/api.md: the bridge chooses one of the
-- organization's). `synced`: the account's numbers have been read at least once; before that an
-- empty list says nothing, and the text waits.
-- not null: synced, phones
SELECT EXISTS (SELECT 1 FROM bridge_account WHERE provider = :provider AND account = :account) AS synced,
       coalesce(array_agg(n.phone ORDER BY n.phone), '{}') AS phones
FROM sending_number n
JOIN provider_number p ON p.phone = n.phone AND p.provider = :provider AND p.account = :account
WHERE n.org_id = :org_id;

-- name: spool :scalar --
-- A webhook's message, kept before the webhook is answered; a second delivery changes nothing
-- (no row back).
INSERT INTO bridge_spool (subject, msg_id, payload, provider_message_id)
VALUES (:subject, :msg_id, :payload, :provider_message_id?)
ON CONFLICT (msg_id) DO NOTHING
RETURNING id;

-- name: lease_spool :many --
-- The oldest spooled messages, for one forwarder at a time across replicas (the advisory lock
-- makes the check and the lease one step; a lease another forwarder holds stops this one), so
-- INBOUND receives them in arrival order. A status held for its send's record (no attempt names
-- its provider id yet, and younger than :hold_seconds seconds) is passed over, not leased: the rows after
-- it (a STOP among them) are forwarded meanwhile, and it goes once the record names it.
-- not null: age
WITH locked AS (SELECT pg_try_advisory_xact_lock(hashtext('bridge_spool')) AS held),
next AS (
    SELECT s.id FROM bridge_spool s, locked
    WHERE locked.held
      AND NOT EXISTS (SELECT 1 FROM bridge_spool b WHERE b.leased_until > now())
      AND (s.provider_message_id IS NULL
           OR s.received_at <= now() - make_interval(secs => :hold_seconds)
           OR EXISTS (SELECT 1 FROM bridge_attempt a
                      WHERE a.provider_message_id = s.provider_message_id))
    ORDER BY s.id
    LIMIT :limit
)
UPDATE bridge_spool s SET leased_until = now() + make_interval(secs => :lease_seconds)
FROM next WHERE s.id = next.id
RETURNING s.id, s.subject, s.msg_id, s.payload, s.provider_message_id,
          extract(epoch FROM now() - s.received_at)::float8 AS age;

-- name: forwarded :exec --
DELETE FROM bridge_spool WHERE id = :spool_id;

-- name: release_spool :exec --
UPDATE bridge_spool SET leased_until = '-infinity' WHERE id = ANY(:spool_ids::bigint[]);

-- name: spooled :scalar --
-- not null: count
SELECT count(*) FROM bridge_spool;

-- name: message_for_provider_id :scalar --
SELECT message_id FROM bridge_attempt WHERE provider_message_id = :provider_message_id;

-- name: account_synced :exec --
INSERT INTO bridge_account (provider, account) VALUES (:provider, :account)
ON CONFLICT (provider, account) DO UPDATE SET synced_at = now();

-- name: forget_numbers :exec --
DELETE FROM provider_number WHERE provider = :provider AND account = :account AND NOT (phone = ANY(:numbers::text[]));

-- name: hold_numbers :exec --
INSERT INTO provider_number (phone, provider, account)
SELECT DISTINCT n, :provider, :account FROM unnest(:numbers::text[]) AS n
ON CONFLICT DO NOTHING;
