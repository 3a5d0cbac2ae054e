-- Inbound's named queries.

-- name: ingest --
-- A contact's message in one statement (one round trip, atomic on its own). The conversation:
-- in the campaign whose number it texted, else one we started, else the most recently active;
-- locked, so a reply and a send in it are serialised. The message is recorded exactly once (a
-- redelivered provider message finds its row), and only a new one flips the conversation to
-- needs_reply, which starts the release clock at Baton's time, not the provider's (a second
-- message while unanswered keeps the first time); the provider's time is kept on the message. Returns the conversation and its organization (NULL when the number matches none) and
-- whether the message was new. An opt-out runs this in the transaction that also closes the
-- number's conversations, so its flip is overwritten before anyone sees it.
WITH matched AS (
    SELECT v.id, c.org_id
    FROM contact k
    JOIN conversation v ON v.contact_id = k.id
    JOIN campaign c ON c.id = k.campaign_id
    WHERE k.phone = $1
    ORDER BY (c.sending_number IS NOT DISTINCT FROM $2) DESC, (v.status <> 'not_started') DESC,
             v.updated_at DESC, v.id DESC
    LIMIT 1
    FOR UPDATE OF v
), inserted AS (
    INSERT INTO message (conversation_id, direction, kind, body, provider_message_id,
                         delivery_status, provider_received_at)
    SELECT id, 'inbound', 'contact', $3, $4, 'received', $5 FROM matched
    ON CONFLICT (direction, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
    RETURNING conversation_id
), flipped AS (
    UPDATE conversation v
    SET status = 'needs_reply', needs_reply_since = coalesce(needs_reply_since, now()),
        updated_at = now()
    FROM inserted
    WHERE v.id = inserted.conversation_id AND v.status <> 'closed'
)
SELECT (SELECT id FROM matched) AS conversation_id, (SELECT org_id FROM matched) AS org_id,
       EXISTS (SELECT 1 FROM inserted) AS new;

-- name: add_opt_out --
INSERT INTO opt_out (org_id, phone, source) VALUES ($1, $2, 'reply') ON CONFLICT DO NOTHING;

-- name: remove_opt_out --
-- Whether the number had opted out of the organization (and no longer has).
WITH removed AS (DELETE FROM opt_out WHERE org_id = $1 AND phone = $2 RETURNING 1)
SELECT EXISTS (SELECT 1 FROM removed);

-- name: reopen --
-- The conversation a contact opted back in from: open again, waiting for an answer.
UPDATE conversation
SET status = 'needs_reply', needs_reply_since = now(), updated_at = now()
WHERE id = $1 AND status = 'closed';

-- name: close_for_phone --
-- Every conversation the organization has with this number closes: nothing is sent to it again
-- and none of them is handed out.
UPDATE conversation v
SET status = 'closed', needs_reply_since = NULL, updated_at = now()
FROM contact k, campaign c
WHERE v.contact_id = k.id AND k.phone = $2 AND c.id = k.campaign_id AND c.org_id = $1
  AND v.status <> 'closed';

-- name: insert_unmatched --
INSERT INTO unmatched_inbound (provider_message_id, from_phone, to_phone, body, received_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (provider_message_id) DO NOTHING;
