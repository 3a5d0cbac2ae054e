-- Inbound's named queries.

-- name: ingest --
-- A contact's message in one statement (one round trip, atomic on its own). Only the organization
-- that owns the number texted ($2) is searched, so a reply never crosses organizations. Inside
-- it, the conversation: the one that number last texted, else one in the campaign that sends
-- from it, else one we started, else the most recently active; locked, so a reply and a send in
-- it are serialised. The message is recorded exactly once (a redelivered provider message finds
-- its row), and only a new one flips the conversation to needs_reply, which starts the release
-- clock at Baton's time, not the provider's (a second message while unanswered keeps the first
-- time); the provider's time is kept on the message. Returns the organization owning the number
-- (NULL: nobody does), the conversation (NULL: none matched) and whether the message was new.
-- An opt-out runs this in the transaction that also closes the number's conversations, so its
-- flip is overwritten before anyone sees it.
WITH owner AS (
    SELECT org_id FROM sending_number WHERE phone = $2
), matched AS (
    SELECT v.id
    FROM owner
    JOIN campaign c ON c.org_id = owner.org_id
    JOIN contact k ON k.campaign_id = c.id
    JOIN conversation v ON v.contact_id = k.id
    WHERE k.phone = $1
    ORDER BY (SELECT max(m.id) FROM message m
              WHERE m.conversation_id = v.id AND m.direction = 'outbound'
                AND m.our_number = $2) DESC NULLS LAST,
             (c.sending_number IS NOT DISTINCT FROM $2) DESC, (v.status <> 'not_started') DESC,
             v.updated_at DESC, v.id DESC
    LIMIT 1
    FOR UPDATE OF v
), inserted AS (
    INSERT INTO message (conversation_id, direction, kind, body, provider_message_id,
                         delivery_status, provider_received_at, our_number)
    SELECT id, 'inbound', 'contact', $3, $4, 'received', $5, $2 FROM matched
    ON CONFLICT (direction, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
    RETURNING conversation_id
), flipped AS (
    UPDATE conversation v
    SET status = 'needs_reply', needs_reply_since = coalesce(needs_reply_since, now()),
        updated_at = now()
    FROM inserted
    WHERE v.id = inserted.conversation_id AND v.status <> 'closed'
)
SELECT (SELECT org_id FROM owner) AS org_id, (SELECT id FROM matched) AS conversation_id,
       EXISTS (SELECT 1 FROM inserted) AS new;

-- name: add_opt_out --
-- Whether this is a new opt-out (a second STOP changes nothing and is not confirmed again).
WITH added AS (
    INSERT INTO opt_out (org_id, phone, source) VALUES ($1, $2, 'reply')
    ON CONFLICT DO NOTHING RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM added);

-- name: queue_confirmation --
-- The organization's confirmation, from the number the contact texted, in the conversation they
-- texted from: a message like any other, so receipts and the record find it.
INSERT INTO message (conversation_id, direction, kind, body, delivery_status, our_number)
SELECT v.id, 'outbound', 'opt_out_confirmation', o.opt_out_confirmation, 'queued', $3
FROM conversation v
JOIN campaign c ON c.id = v.campaign_id
JOIN organization o ON o.id = c.org_id
WHERE v.id = $1 AND o.id = $2
RETURNING id, body, (SELECT campaign_id FROM conversation WHERE id = $1) AS campaign_id;

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
-- Whether the message is new: a redelivery finds its row and changes nothing.
WITH inserted AS (
    INSERT INTO unmatched_inbound (provider_message_id, from_phone, to_phone, body, received_at,
                                   org_id)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (provider_message_id) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM inserted);
