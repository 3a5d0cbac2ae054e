-- Opt-out confirmations when a number's words are applied out of stream order (migration 0009
-- keeps the consent right; this keeps the confirmation CTIA expects).
--
-- A START followed by a STOP, the STOP applied first (another inbound process, a redelivery):
-- the STOP finds the number still opted out from before and is a repeat, unconfirmed; the START
-- then arrives older and changes nothing. In stream order the START would have opted the number
-- in, and the STOP been a new opt-out, confirmed. So each number keeps the sequence of its last
-- STOP that was a new opt-out (confirmed), and of the last STOP since then that found it opted
-- out already; a late START between the two is owed that confirmation, and sends it.
ALTER TABLE consent_order
    ADD COLUMN new_opt_out_seq bigint,
    ADD COLUMN repeated_stop_seq bigint;
