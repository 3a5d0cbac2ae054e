-- Opt-out confirmations when a number's words are applied out of stream order (migration 0009
-- keeps the consent right; this keeps the confirmation CTIA expects).
--
-- A START then a STOP of a number that had opted out before, the STOP applied first (another
-- inbound process, a redelivery): the STOP finds the number opted out still and is a repeat,
-- unconfirmed; the START then arrives older and changes nothing. In stream order the START
-- opted the number in and the STOP was a new opt-out. The rule kept (docs/opt_outs.md): a number
-- opted out now, whose newest START (in stream order) came after its newest confirmed STOP, is
-- owed one confirmation; a late START that makes it so sends it. So each number keeps its last
-- applied word, its newest START seen (applied or late) and its newest confirmed STOP.
-- Rows from before this migration know none of these: no late confirmation is owed from them.
ALTER TABLE consent_order
    ADD COLUMN last_word text CHECK (last_word IN ('opt_out', 'opt_in')),
    ADD COLUMN newest_start_seq bigint,
    ADD COLUMN confirmed_stop_seq bigint;
