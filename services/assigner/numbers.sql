-- An organization's sending numbers (issue #14): the numbers its campaigns text from, and the
-- numbers whose replies are its own.

-- name: org_numbers :many --
SELECT phone FROM sending_number WHERE org_id = :org_id ORDER BY phone;

-- name: add_numbers :exec --
-- A number already the organization's stays so (with the new rate, :rate_per_second, when one is given); one
-- another organization holds is left to it (and found by `held_elsewhere`, which refuses the
-- whole request).
INSERT INTO sending_number AS held (phone, org_id, rate_per_second)
SELECT DISTINCT n, :org_id::bigint, :rate_per_second?::real FROM unnest(:numbers::text[]) AS n
ON CONFLICT (phone) DO UPDATE
    SET rate_per_second = coalesce(EXCLUDED.rate_per_second, held.rate_per_second)
    WHERE held.org_id = EXCLUDED.org_id;

-- name: held_elsewhere :many --
SELECT phone FROM sending_number
WHERE phone = ANY(:numbers::text[]) AND org_id <> :org_id
ORDER BY phone;

-- name: campaigns_sending_from :many --
-- The organization's campaigns that still send from any of these numbers.
SELECT id, sending_number FROM campaign
WHERE org_id = :org_id AND sending_number = ANY(:numbers::text[])
ORDER BY id;

-- name: lock_numbers :exec --
-- Waits for any transaction giving a campaign one of these numbers (its key check holds the row).
SELECT phone FROM sending_number WHERE org_id = :org_id AND phone = ANY(:numbers::text[]) FOR UPDATE;

-- name: remove_numbers :exec --
DELETE FROM sending_number WHERE org_id = :org_id AND phone = ANY(:numbers::text[]);

-- name: owns_number :scalar --
-- Held (key share) until the campaign's change commits: a removal waits for it, then sees it.
SELECT phone FROM sending_number WHERE org_id = :org_id AND phone = :number FOR KEY SHARE;

-- name: not_held_by_a_provider :many --
-- not null: phone
-- With a provider bridge configured (an account listed), the numbers none of its accounts holds.
SELECT n AS phone FROM unnest(:numbers::text[]) AS n
WHERE EXISTS (SELECT 1 FROM bridge_account)
  AND NOT EXISTS (SELECT 1 FROM provider_number p WHERE p.phone = n)
ORDER BY n;
