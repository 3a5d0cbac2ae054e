-- The sender's named queries. $now is injectable: coalesce($n, now()).

-- name: conversation_for_send --
-- The row lock serialises a send with an opt-out, a reassignment or another send.
SELECT v.id, v.campaign_id, v.status, v.assignee_id, k.phone, z.zones, c.org_id,
       c.status AS campaign_status, c.texting_hours_start, c.texting_hours_end,
       c.closing_margin_minutes, c.fallback_zone, c.sending_number,
       EXISTS (SELECT 1 FROM opt_out o WHERE o.org_id = c.org_id AND o.phone = k.phone) AS opted_out,
       EXISTS (SELECT 1 FROM organization_member m
               WHERE m.org_id = c.org_id AND m.user_id = $2) AS caller_is_member,
       EXISTS (SELECT 1 FROM campaign_texter t
               WHERE t.campaign_id = c.id AND t.user_id = $2) AS caller_is_texter
FROM conversation v
JOIN contact k ON k.id = v.contact_id
JOIN campaign c ON c.id = v.campaign_id
-- The contact's zones, as the assigner saw them when it handed the conversation out.
JOIN zone_group z ON z.id = v.zone_group
WHERE v.id = $1
FOR UPDATE OF v;

-- name: previous_sends --
-- The ($1[i] texter, $2[i] idempotency key) pairs already used, with what they sent.
SELECT m.texter_id, m.idempotency_key, m.id, m.conversation_id, m.kind, m.delivery_status
FROM unnest($1::bigint[], $2::text[]) AS r(texter_id, idempotency_key)
JOIN message m ON m.texter_id = r.texter_id AND m.idempotency_key = r.idempotency_key;

-- name: conversations_for_send --
-- conversation_for_send for a batch of (conversation $1[i], caller $2[i]), locked in id order so
-- that two batches sharing conversations wait for each other and never deadlock.
SELECT r.i, v.id, v.campaign_id, v.status, v.assignee_id, k.phone, z.zones, c.org_id,
       c.status AS campaign_status, c.texting_hours_start, c.texting_hours_end,
       c.closing_margin_minutes, c.fallback_zone, c.sending_number,
       EXISTS (SELECT 1 FROM opt_out o WHERE o.org_id = c.org_id AND o.phone = k.phone) AS opted_out,
       EXISTS (SELECT 1 FROM organization_member m
               WHERE m.org_id = c.org_id AND m.user_id = r.texter_id) AS caller_is_member,
       EXISTS (SELECT 1 FROM campaign_texter t
               WHERE t.campaign_id = c.id AND t.user_id = r.texter_id) AS caller_is_texter
FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS r(conversation_id, texter_id, i)
JOIN conversation v ON v.id = r.conversation_id
JOIN contact k ON k.id = v.contact_id
JOIN campaign c ON c.id = v.campaign_id
JOIN zone_group z ON z.id = v.zone_group
ORDER BY v.id
FOR UPDATE OF v;

-- name: insert_outbounds --
-- A batch's messages. A key another batch took meanwhile is skipped (not returned): its
-- request is answered with that send, as a retry would be. $6: the campaign's sending
-- number, the number each goes from unless the bridge reports another.
INSERT INTO message (conversation_id, direction, kind, texter_id, body, idempotency_key,
                     delivery_status, our_number)
SELECT conversation_id, 'outbound', kind, texter_id, body, idempotency_key, 'queued', our_number
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
     AS r(conversation_id, kind, texter_id, body, idempotency_key, our_number)
ON CONFLICT (texter_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id, conversation_id, texter_id, idempotency_key;

-- name: mark_sent --
-- A batch's conversations after their texts: $1 the initials' (now awaiting a reply), $2 the
-- replies' (our answer stops the release clock).
UPDATE conversation
SET status = CASE WHEN id = ANY($1::bigint[]) THEN 'awaiting_reply' ELSE 'replied' END,
    needs_reply_since = CASE WHEN id = ANY($1::bigint[]) THEN needs_reply_since END,
    updated_at = now()
WHERE (id = ANY($1::bigint[]) AND status = 'not_started')
   OR (id = ANY($2::bigint[]) AND status <> 'closed');

-- name: apply_receipt --
-- A later receipt never takes a message back: delivered and failed are final.
UPDATE message
SET delivery_status = $3,
    error_code = coalesce($4, error_code),
    provider_message_id = coalesce(provider_message_id, $5),
    -- The number the bridge says it sent from, if the message's organization owns it: a number
    -- it does not own would route the contact's answers (and STOP) to whoever does.
    our_number = coalesce(
        (SELECT n.phone FROM sending_number n
         JOIN conversation v ON v.id = message.conversation_id
         JOIN campaign c ON c.id = v.campaign_id
         WHERE n.phone = $6 AND n.org_id = c.org_id),
        our_number),
    updated_at = now()
WHERE direction = 'outbound'
  AND (id = $1 OR ($1::bigint IS NULL AND provider_message_id = $2))
  AND delivery_status IN ('queued', 'sent')
  AND NOT (delivery_status = 'sent' AND $3 = 'sent')
RETURNING id, our_number;

-- name: carrier_opt_out_target --
-- Whom a carrier's opt-out (a `failed` receipt with its code) is about: the text's contact, in
-- the text's organization.
SELECT v.id AS conversation_id, c.org_id, k.phone, m.our_number
FROM message m
JOIN conversation v ON v.id = m.conversation_id
JOIN campaign c ON c.id = v.campaign_id
JOIN contact k ON k.id = v.contact_id
WHERE m.id = $1 AND m.direction = 'outbound';
