-- The order of a number's consent words, kept in Postgres: for each organization and number,
-- the INBOUND stream sequence of the last STOP or START applied. A word older than that is
-- recorded as a message and changes nothing (services/inbound/replies.py).
--
-- Inbound handles messages concurrently, in several processes (deploy/k8s runs two), and a
-- message that failed comes back later: a START and the STOP after it could be applied in either
-- order, and a contact whose last word was STOP left textable (found by outside-in reviews,
-- with two processes, a dropped connection and a crash before the acks). An order kept in one
-- process covered none of those; this row does, since the upsert that claims a turn also locks
-- the number's row until its transaction ends.
CREATE TABLE consent_order (
    org_id     bigint NOT NULL REFERENCES organization (id),
    phone      text NOT NULL,
    stream_seq bigint NOT NULL,
    PRIMARY KEY (org_id, phone)
);
