-- PLACEHOLDER, not for merge: migration 14 is reserved for issue #31's bridge branch. It keeps
-- this branch's migrations numbered without gaps (shared/migrations.py refuses a gap) so that
-- 0015 onwards can be applied and tested here. Delete this file when merging with #31's 0014.
SELECT 1;
