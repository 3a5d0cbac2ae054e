-- The sender's named queries. $now is injectable: coalesce($n, now()).

-- name: previous_send --
SELECT id, conversation_id, kind, delivery_status FROM message
WHERE texter_id = $1 AND idempotency_key = $2;

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

-- name: insert_outbound --
-- $6: the campaign's sending number, the number it goes from unless the bridge reports another.
INSERT INTO message (conversation_id, direction, kind, texter_id, body, idempotency_key,
                     delivery_status, our_number)
VALUES ($1, 'outbound', $2, $3, $4, $5, 'queued', $6)
RETURNING id;

-- name: mark_initial_sent --
UPDATE conversation SET status = 'awaiting_reply', updated_at = now()
WHERE id = $1 AND status = 'not_started';

-- name: mark_replied --
-- Our answer stops the release clock.
UPDATE conversation SET status = 'replied', needs_reply_since = NULL, updated_at = now()
WHERE id = $1 AND status <> 'closed';

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
