-- Inbound's named queries.

-- name: ingest --
-- A contact's message in one statement (one round trip, atomic on its own). The number texted
-- ($2) decides where it goes, never the contact's number alone, so a reply does not wander into
-- another organization that has the same contact:
-- 1. the conversation that number last texted this contact, whoever owns the number now: the
--    contact is answering that text (this holds when a number was given up, or has passed to
--    another organization, since; its STOP must reach the organization that texted them);
-- 2. else, inside the organization that owns the number: one in the campaign that sends from it,
--    else one we started, else the most recently active;
-- 3. else none: the caller keeps it in unmatched_inbound.
-- Locked, so a reply and a send in it are serialised. The message is recorded exactly once (a
-- redelivered provider message finds its row), and only a new one flips the conversation to
-- needs_reply, which starts the release clock at Baton's time, not the provider's (a second
-- message while unanswered keeps the first time); the provider's time is kept on the message.
-- Returns the organization (the matched conversation's, else the number's owner, else NULL),
-- the conversation (NULL: none matched) and whether the message was new. An opt-out runs this
-- in the transaction that also closes the number's conversations, so its flip is overwritten
-- before anyone sees it.
WITH owner AS (
    SELECT org_id FROM sending_number WHERE phone = $2
), candidates AS (
    SELECT v.id, c.org_id, c.sending_number, v.status, v.updated_at,
           (SELECT max(m.id) FROM message m
            WHERE m.conversation_id = v.id AND m.direction = 'outbound'
              AND m.our_number = $2) AS last_texted
    FROM contact k
    JOIN conversation v ON v.contact_id = k.id
    JOIN campaign c ON c.id = k.campaign_id
    WHERE k.phone = $1
), matched AS (
    SELECT v.id, candidates.org_id
    FROM candidates
    JOIN conversation v ON v.id = candidates.id
    WHERE candidates.last_texted IS NOT NULL
       OR candidates.org_id = (SELECT org_id FROM owner)
    ORDER BY candidates.last_texted DESC NULLS LAST,
             (candidates.sending_number IS NOT DISTINCT FROM $2) DESC,
             (candidates.status <> 'not_started') DESC, candidates.updated_at DESC,
             candidates.id DESC
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
SELECT coalesce((SELECT org_id FROM matched), (SELECT org_id FROM owner)) AS org_id,
       (SELECT id FROM matched) AS conversation_id, EXISTS (SELECT 1 FROM inserted) AS new;

-- name: insert_unmatched --
-- Whether the message is new: a redelivery finds its row and changes nothing.
WITH inserted AS (
    INSERT INTO unmatched_inbound (provider_message_id, from_phone, to_phone, body, received_at,
                                   org_id)
    VALUES ($1, $2, $3, $4, coalesce($5, now()), $6)
    ON CONFLICT (provider_message_id) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM inserted);
