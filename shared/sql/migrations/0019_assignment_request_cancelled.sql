-- A waiting assignment request can be `cancelled` (issue #33, review finding 5): closed because
-- its reason went away before a moderator resolved it (the texter's request level changed, or
-- they were taken out of the organization or off the campaign).
--
-- Expand-only: the status check admits one more value; every row the previous release wrote
-- still satisfies it, and the previous release never writes `cancelled`. NOT VALID first, so the
-- new check is in force at once; VALIDATE reads the table without blocking writes.
ALTER TABLE assignment_request DROP CONSTRAINT assignment_request_status_check;
ALTER TABLE assignment_request ADD CONSTRAINT assignment_request_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'fulfilled', 'unfulfilled',
                      'cancelled')) NOT VALID;
ALTER TABLE assignment_request VALIDATE CONSTRAINT assignment_request_status_check;
