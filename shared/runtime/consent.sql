-- A contact's consent inside one organization: opting out (a STOP, or a texter who read one the
-- classifier missed), the confirmation, and opting back in (START, UNSTOP).

-- name: add_opt_out :scalar --
-- not null: exists
-- Whether this is a new opt-out (a second STOP changes nothing and is not confirmed again).
WITH added AS (
    INSERT INTO opt_out (org_id, phone, source) VALUES (:org_id, :phone, :source)
    ON CONFLICT DO NOTHING RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM added);

-- name: close_for_phone :exec --
-- Every conversation the organization has with this number closes: nothing is sent to it again
-- and none of them is handed out.
UPDATE conversation v
SET status = 'closed', needs_reply_since = NULL, updated_at = now()
FROM contact k, campaign c
WHERE v.contact_id = k.id AND k.phone = :phone AND c.id = k.campaign_id AND c.org_id = :org_id
  AND v.status <> 'closed';

-- name: queue_confirmation :one --
-- not null: campaign_id
-- The organization's confirmation, from the number the contact texted, in the conversation they
-- texted from: a message like any other, so receipts and the record find it.
INSERT INTO message (conversation_id, direction, kind, body, delivery_status, our_number)
SELECT v.id, 'outbound', 'opt_out_confirmation', o.opt_out_confirmation, 'queued', :our_number
FROM conversation v
JOIN campaign c ON c.id = v.campaign_id
JOIN organization o ON o.id = c.org_id
WHERE v.id = :conversation_id AND o.id = :org_id
RETURNING id, body, (SELECT campaign_id FROM conversation WHERE id = :conversation_id) AS campaign_id;

-- name: remove_opt_out :scalar --
-- not null: exists
-- Whether the number had opted out of the organization (and no longer has).
WITH removed AS (DELETE FROM opt_out WHERE org_id = :org_id AND phone = :phone RETURNING 1)
SELECT EXISTS (SELECT 1 FROM removed);

-- name: reopen :exec --
-- The conversation a contact opted back in from: open again, waiting for an answer.
UPDATE conversation
SET status = 'needs_reply', needs_reply_since = now(), updated_at = now()
WHERE id = :conversation_id AND status = 'closed';

-- name: last_our_number :scalar --
-- The number that last texted this conversation's contact (the confirmation goes from it), else
-- its campaign's.
SELECT coalesce(
    (SELECT our_number FROM message
     WHERE conversation_id = :conversation_id AND direction = 'outbound' AND our_number IS NOT NULL
     ORDER BY id DESC LIMIT 1),
    (SELECT c.sending_number FROM conversation v JOIN campaign c ON c.id = v.campaign_id
     WHERE v.id = :conversation_id));
