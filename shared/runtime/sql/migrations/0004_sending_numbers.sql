-- Routing inside organizations (issue #14). An organization owns the numbers it texts from; a
-- contact's reply is matched by (their number, the number they texted) inside the organization
-- that owns the number texted, and never crosses into another organization that happens to have
-- the same contact. A reply to a number nobody owns is kept in unmatched_inbound.

-- A number belongs to one organization at a time, across all of Baton. E.164, or a short code
-- (3 to 8 digits) kept as the carrier gives it.
CREATE TABLE sending_number (
    phone      text PRIMARY KEY CHECK (phone ~ '^(\+[1-9][0-9]{6,14}|[0-9]{3,8})$'),
    org_id     bigint NOT NULL REFERENCES organization (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The target of campaign's (org_id, sending_number) key below.
    UNIQUE (org_id, phone)
);

-- Numbers campaigns already use: each goes to the organization of the first campaign that used
-- it; a campaign of another organization (or with a number that is not a number) loses it, since
-- replies to it could not be told apart from the first organization's.
INSERT INTO sending_number (phone, org_id)
SELECT DISTINCT ON (sending_number) sending_number, org_id
FROM campaign
WHERE sending_number ~ '^(\+[1-9][0-9]{6,14}|[0-9]{3,8})$'
ORDER BY sending_number, id;
UPDATE campaign c SET sending_number = NULL
WHERE sending_number IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM sending_number n
                  WHERE n.phone = c.sending_number AND n.org_id = c.org_id);

-- A campaign's sending number is one of its organization's: the database holds every path to it.
ALTER TABLE campaign ADD CONSTRAINT campaign_sending_number_is_its_orgs
    FOREIGN KEY (org_id, sending_number) REFERENCES sending_number (org_id, phone);
CREATE INDEX campaign_sending_number ON campaign (org_id, sending_number)
    WHERE sending_number IS NOT NULL;

-- Our side of every text: the number an outbound text went from (the campaign's when it was
-- queued, or the one the bridge reports in its receipt), the number an inbound one was sent to.
-- A reply goes to the conversation its number last texted.
ALTER TABLE message ADD COLUMN our_number text;

-- The one text Baton sends on its own: the confirmation of an opt-out (CTIA), once per opt-out.
ALTER TABLE message DROP CONSTRAINT message_kind_check;
ALTER TABLE message ADD CONSTRAINT message_kind_check
    CHECK (kind IN ('initial', 'reply', 'contact', 'opt_out_confirmation'));

-- The confirmation's text is the organization's to word (it should name the program).
ALTER TABLE organization ADD COLUMN opt_out_confirmation text NOT NULL
    DEFAULT 'You are unsubscribed and will receive no more texts from us. Reply START to resubscribe.'
    CHECK (length(opt_out_confirmation) BETWEEN 1 AND 320);

-- An opt-out from a number the organization owns but a contact it never texted has no
-- conversation; the unmatched row remembers which organization it went to.
ALTER TABLE unmatched_inbound ADD COLUMN org_id bigint REFERENCES organization (id);
