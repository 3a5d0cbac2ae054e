-- Assignment requests after issue #33's review: a waiting request can be `cancelled` (finding
-- 5: closed because its reason went away before a moderator resolved it: the texter's request
-- level changed, or they were taken out of the organization or off the campaign), and an
-- approved request that got no conversations keeps its refusal's details (finding 7: when the
-- next ones open, as a direct request is told).
--
-- Expand-only: the status check admits one more value (every row the previous release wrote
-- still satisfies it, and the previous release never writes `cancelled`), and a nullable column
-- the previous release neither reads nor writes. NOT VALID first, so the
-- new check is in force at once; VALIDATE reads the table without blocking writes.
ALTER TABLE assignment_request DROP CONSTRAINT assignment_request_status_check;
ALTER TABLE assignment_request ADD CONSTRAINT assignment_request_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'fulfilled', 'unfulfilled',
                      'cancelled')) NOT VALID;
ALTER TABLE assignment_request VALIDATE CONSTRAINT assignment_request_status_check;

-- The refusal's details (`none_textable_now`: opens_at, zone, local_time), as JSON.
ALTER TABLE assignment_request ADD COLUMN refusal_details jsonb;
