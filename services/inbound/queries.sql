-- Inbound's named queries.

-- name: match_messages :many --
-- Where each of a batch of contacts' messages goes (:phones: the contacts' numbers, :to_numbers:
-- the numbers they texted, one pair per message; one row per message, in their order). The number
-- texted decides, never the contact's number alone, so a reply does not wander into another
-- organization that has the same contact:
-- 1. the conversation that number last texted this contact, whoever owns the number now: the
--    contact is answering that text (this holds when a number was given up, or has passed to
--    another organization, since; its STOP must reach the organization that texted them);
-- 2. else, inside the organization that owns the number: one in the campaign that sends from it,
--    else one we started, else the most recently active;
-- 3. else none (NULL): the caller keeps it in unmatched_inbound.
-- Also the organization: the matched conversation's, else the number's owner, else NULL.
-- Nothing is locked here: the caller locks the matched conversations next, all at once and in
-- id order (`lock_conversations`), as the sender's batches do, so two batches never deadlock.
SELECT r.i, coalesce(matched.org_id, owner.org_id) AS org_id, matched.id AS conversation_id
FROM unnest(:phones::text[], :to_numbers::text[]) WITH ORDINALITY AS r(phone, to_phone, i)
LEFT JOIN sending_number owner ON owner.phone = r.to_phone
LEFT JOIN LATERAL (
    SELECT candidates.id, candidates.org_id
    FROM (
        SELECT v.id, c.org_id, c.sending_number, v.status, v.updated_at,
               (SELECT max(m.id) FROM message m
                WHERE m.conversation_id = v.id AND m.direction = 'outbound'
                  AND m.our_number = r.to_phone) AS last_texted
        FROM contact k
        JOIN conversation v ON v.contact_id = k.id
        JOIN campaign c ON c.id = k.campaign_id
        WHERE k.phone = r.phone
    ) candidates
    WHERE candidates.last_texted IS NOT NULL OR candidates.org_id = owner.org_id
    ORDER BY candidates.last_texted DESC NULLS LAST,
             (candidates.sending_number IS NOT DISTINCT FROM r.to_phone) DESC,
             (candidates.status <> 'not_started') DESC, candidates.updated_at DESC,
             candidates.id DESC
    LIMIT 1
) matched ON true
ORDER BY r.i;

-- name: lock_conversations :exec --
-- Locked in id order, so a reply and a send in one conversation are serialised and two batches
-- cannot deadlock.
SELECT id FROM conversation WHERE id = ANY(:conversation_ids::bigint[]) ORDER BY id FOR UPDATE;

-- name: insert_inbound_messages :many --
-- The messages that matched a conversation, each recorded exactly once: a redelivered provider
-- message finds its row. Returns the provider ids of those that were new; one not new is a
-- repeat only if its content is the same (`inbound_repeats`), else it is stored under another
-- id (services/inbound/collisions.py). The provider's time
-- is kept on the message; the release clock runs on Baton's (`flip_to_needs_reply`).
INSERT INTO message (conversation_id, direction, kind, body, provider_message_id,
                     delivery_status, provider_received_at, our_number)
SELECT r.conversation_id, 'inbound', 'contact', r.body, r.provider_message_id, 'received',
       r.received_at, r.our_number
FROM unnest(:conversation_ids::bigint[], :bodies::text[], :provider_message_ids::text[], :received_ats::timestamptz[], :our_numbers::text[])
     AS r(conversation_id, body, provider_message_id, received_at, our_number)
ON CONFLICT (direction, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
RETURNING provider_message_id;

-- name: inbound_repeats :scalar --
-- Whether the contact's message stored under provider id :provider_message_id is the one from
-- :from_phone to :to_phone saying :body: a true repeat. NULL when no message has that id (yet).
SELECT k.phone = :from_phone AND m.our_number IS NOT DISTINCT FROM :to_phone? AND m.body = :body
FROM message m
JOIN conversation v ON v.id = m.conversation_id
JOIN contact k ON k.id = v.contact_id
WHERE m.direction = 'inbound' AND m.provider_message_id = :provider_message_id;

-- name: unmatched_repeats :scalar --
-- The same for a message kept in unmatched_inbound.
SELECT from_phone = :from_phone AND to_phone = :to_phone AND body = :body
FROM unmatched_inbound WHERE provider_message_id = :provider_message_id;

-- name: flip_to_needs_reply :exec --
-- Only a new message flips its conversation to needs_reply, which starts the release clock at
-- Baton's time, not the provider's (a second message while unanswered keeps the first time). An
-- opt-out runs this in the transaction that also closes the number's conversations, so its flip
-- is overwritten before anyone sees it.
UPDATE conversation
SET status = 'needs_reply', needs_reply_since = coalesce(needs_reply_since, now()),
    updated_at = now()
WHERE id = ANY(:conversation_ids::bigint[]) AND status <> 'closed';

-- name: insert_unmatched :many --
-- Messages that matched no conversation; a redelivery finds its row and changes nothing.
-- Returns the provider ids of those that were new (one not new: as insert_inbound_messages).
INSERT INTO unmatched_inbound (provider_message_id, from_phone, to_phone, body, received_at,
                               org_id)
SELECT r.provider_message_id, r.from_phone, r.to_phone, r.body, coalesce(r.received_at, now()),
       r.org_id
FROM unnest(:provider_message_ids::text[], :from_phones::text[], :to_phones::text[], :bodies::text[], :received_ats::timestamptz[], :org_ids::bigint[])
     AS r(provider_message_id, from_phone, to_phone, body, received_at, org_id)
ON CONFLICT (provider_message_id) DO NOTHING
RETURNING provider_message_id;

-- name: consent_turn :scalar --
-- not null: exists
-- Whether a STOP or START at stream sequence :sequence is the newest word of number :phone to
-- organization :org_id (migration 0009); if so it becomes the last applied. The row stays locked
-- until the transaction ends, so two words of one number are applied one after the other, and an
-- older one, arriving later (another process, a redelivery), is found older and changes nothing.
WITH turn AS (
    INSERT INTO consent_order AS o (org_id, phone, stream_seq) VALUES (:org_id, :phone, :sequence)
    ON CONFLICT (org_id, phone) DO UPDATE SET stream_seq = excluded.stream_seq
    WHERE o.stream_seq < excluded.stream_seq
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM turn);

-- name: stop_applied :exec --
-- The STOP at sequence :sequence, just applied to number :phone of organization :org_id; a new
-- opt-out (:is_new) was confirmed as it was applied (migration 0010).
UPDATE consent_order
SET last_word = 'opt_out',
    confirmed_stop_seq = CASE WHEN :is_new THEN :sequence ELSE confirmed_stop_seq END
WHERE org_id = :org_id AND phone = :phone;

-- name: start_applied :exec --
UPDATE consent_order SET last_word = 'opt_in', newest_start_seq = greatest(newest_start_seq, :sequence)
WHERE org_id = :org_id AND phone = :phone;

-- name: late_start :scalar --
-- A START at sequence :sequence, older than the last word applied: whether the number, opted out
-- now by a STOP, is owed a confirmation because this START is its newest (in stream order) and came
-- after its newest confirmed STOP; the STOPs after it then began an opt-out never confirmed. With
-- :confirm (a conversation to confirm in), the last applied STOP counts as confirmed from now:
-- once. The row is locked already, by consent_turn.
UPDATE consent_order o
SET newest_start_seq = greatest(o.newest_start_seq, :sequence),
    confirmed_stop_seq = CASE WHEN owed.yes AND :confirm THEN o.stream_seq ELSE o.confirmed_stop_seq END
FROM (
    SELECT last_word = 'opt_out'
           AND :sequence > coalesce(newest_start_seq, -1)
           AND :sequence > coalesce(confirmed_stop_seq, -1)
           AND EXISTS (SELECT 1 FROM opt_out WHERE org_id = :org_id AND phone = :phone) AS yes
    FROM consent_order WHERE org_id = :org_id AND phone = :phone
) owed
WHERE o.org_id = :org_id AND o.phone = :phone
RETURNING owed.yes AND :confirm AS confirm;
