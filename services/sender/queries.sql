-- The sender's named queries. $now is injectable: coalesce($n, now()).

-- name: conversation_for_send :maybe --
-- not null: opted_out, caller_is_member, caller_is_texter
-- The row lock serialises a send with an opt-out, a reassignment or another send.
SELECT v.id, v.campaign_id, v.status, v.assignee_id, k.phone, z.zones, c.org_id,
       c.status AS campaign_status, c.texting_hours_start, c.texting_hours_end,
       c.closing_margin_minutes, c.fallback_zone, c.sending_number,
       EXISTS (SELECT 1 FROM opt_out o WHERE o.org_id = c.org_id AND o.phone = k.phone) AS opted_out,
       EXISTS (SELECT 1 FROM organization_member m
               WHERE m.org_id = c.org_id AND m.user_id = :caller_id) AS caller_is_member,
       EXISTS (SELECT 1 FROM campaign_texter t
               WHERE t.campaign_id = c.id AND t.user_id = :caller_id) AS caller_is_texter
FROM conversation v
JOIN contact k ON k.id = v.contact_id
JOIN campaign c ON c.id = v.campaign_id
-- The contact's zones, as the assigner saw them when it handed the conversation out.
JOIN zone_group z ON z.id = v.zone_group
WHERE v.id = :conversation_id
FOR UPDATE OF v;

-- name: previous_sends :many --
-- The (:texter_ids[i] texter, :idempotency_keys[i] idempotency key) pairs already used, with what
-- they sent.
SELECT m.texter_id, m.idempotency_key, m.id, m.conversation_id, m.kind, m.delivery_status
FROM unnest(:texter_ids::bigint[], :idempotency_keys::text[]) AS r(texter_id, idempotency_key)
JOIN message m ON m.texter_id = r.texter_id AND m.idempotency_key = r.idempotency_key;

-- name: conversations_for_send :many --
-- not null: i, opted_out, caller_is_member, caller_is_texter
-- conversation_for_send for a batch of (conversation :conversation_ids[i], caller :caller_ids[i]),
-- locked in id order so that two batches sharing conversations wait for each other and never
-- deadlock.
SELECT r.i, v.id, v.campaign_id, v.status, v.assignee_id, k.phone, z.zones, c.org_id,
       c.status AS campaign_status, c.texting_hours_start, c.texting_hours_end,
       c.closing_margin_minutes, c.fallback_zone, c.sending_number,
       EXISTS (SELECT 1 FROM opt_out o WHERE o.org_id = c.org_id AND o.phone = k.phone) AS opted_out,
       EXISTS (SELECT 1 FROM organization_member m
               WHERE m.org_id = c.org_id AND m.user_id = r.texter_id) AS caller_is_member,
       EXISTS (SELECT 1 FROM campaign_texter t
               WHERE t.campaign_id = c.id AND t.user_id = r.texter_id) AS caller_is_texter
FROM unnest(:conversation_ids::bigint[], :caller_ids::bigint[]) WITH ORDINALITY AS r(conversation_id, texter_id, i)
JOIN conversation v ON v.id = r.conversation_id
JOIN contact k ON k.id = v.contact_id
JOIN campaign c ON c.id = v.campaign_id
JOIN zone_group z ON z.id = v.zone_group
ORDER BY v.id
FOR UPDATE OF v;

-- name: insert_outbounds :many --
-- A batch's messages. A key another batch took meanwhile is skipped (not returned): its
-- request is answered with that send, as a retry would be. :our_numbers: the campaign's sending
-- number, the number each goes from unless the bridge reports another.
INSERT INTO message (conversation_id, direction, kind, texter_id, body, idempotency_key,
                     delivery_status, our_number)
SELECT conversation_id, 'outbound', kind, texter_id, body, idempotency_key, 'queued', our_number
FROM unnest(:conversation_ids::bigint[], :kinds::text[], :texter_ids::bigint[], :bodies::text[], :idempotency_keys::text[], :our_numbers::text[])
     AS r(conversation_id, kind, texter_id, body, idempotency_key, our_number)
ON CONFLICT (texter_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id, conversation_id, texter_id, idempotency_key;

-- name: mark_sent :exec --
-- A batch's conversations after their texts: :initials the initials' (now awaiting a reply),
-- :replies the replies' (our answer stops the release clock).
UPDATE conversation
SET status = CASE WHEN id = ANY(:initials::bigint[]) THEN 'awaiting_reply' ELSE 'replied' END,
    needs_reply_since = CASE WHEN id = ANY(:initials::bigint[]) THEN needs_reply_since END,
    updated_at = now()
WHERE (id = ANY(:initials::bigint[]) AND status = 'not_started')
   OR (id = ANY(:replies::bigint[]) AND status <> 'closed');

-- name: apply_receipt :maybe --
-- A later receipt never takes a message back: delivered and failed are final.
UPDATE message
SET delivery_status = :status,
    error_code = coalesce(:error_code?, error_code),
    provider_message_id = coalesce(provider_message_id, :new_provider_message_id?),
    -- The number the bridge says it sent from, if the message's organization owns it: a number
    -- it does not own would route the contact's answers (and STOP) to whoever does.
    our_number = coalesce(
        (SELECT n.phone FROM sending_number n
         JOIN conversation v ON v.id = message.conversation_id
         JOIN campaign c ON c.id = v.campaign_id
         WHERE n.phone = :reported_number? AND n.org_id = c.org_id),
        our_number),
    updated_at = now()
WHERE direction = 'outbound'
  AND (id = :message_id? OR (:message_id?::bigint IS NULL AND provider_message_id = :provider_message_id?))
  AND delivery_status IN ('queued', 'sent')
  AND NOT (delivery_status = 'sent' AND :status = 'sent')
RETURNING id, our_number;

-- name: carrier_opt_out_target :maybe --
-- Whom a carrier's opt-out (a `failed` receipt with its code) is about: the text's contact, in
-- the text's organization.
SELECT v.id AS conversation_id, c.org_id, k.phone, m.our_number
FROM message m
JOIN conversation v ON v.id = m.conversation_id
JOIN campaign c ON c.id = v.campaign_id
JOIN contact k ON k.id = v.contact_id
WHERE m.id = :message_id AND m.direction = 'outbound';
