-- Campaign exports (issue #33): a campaign's conversations or messages as CSV, streamed from
-- Postgres (`COPY ... TO STDOUT`) into the JetStream Object Store (services/assigner/exports.py).
-- Expand-only: a new table and a new function; the previous release uses neither.

CREATE TABLE campaign_export (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       bigint NOT NULL REFERENCES organization (id),
    campaign_id  bigint NOT NULL REFERENCES campaign (id),
    requested_by bigint NOT NULL REFERENCES app_user (id),
    kind         text NOT NULL CHECK (kind IN ('conversations', 'messages')),
    -- Filters: conversation statuses (empty: all), and a time range [since, until).
    statuses     text[] NOT NULL DEFAULT '{}',
    since        timestamptz,
    until        timestamptz,
    state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'complete', 'failed')),
    -- The object's name in the exports bucket, and the id its parts are stored under.
    object_name  text NOT NULL,
    object_nuid  text,
    -- Bytes written so far, then the object's size; rows once complete (COPY's own count).
    size_bytes   bigint NOT NULL DEFAULT 0,
    row_count    bigint,
    -- The Object Store's digest of the object (`SHA-256=<base64url>`), once complete.
    digest       text,
    error        text,
    -- A running export's exporter writes this every few seconds; one that stopped writing it
    -- (its process died) is reported failed.
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX campaign_export_campaign ON campaign_export (campaign_id, id);

-- A CSV cell a spreadsheet opens as text, never as a formula (OWASP, CSV injection): a cell
-- starting with = @ tab or carriage return, or with + or - not followed by a plain number only,
-- gets a leading single quote. `+14155550100` (a phone) and `-12.5` stay as they are; `-1+1`,
-- `+SUM(A1)` and `=1` do not. COPY's CSV format quotes every field (FORCE_QUOTE *), doubling
-- any quote inside.
CREATE FUNCTION csv_cell(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value ~ '^[=@\t\r]' OR (value ~ '^[+-]' AND value !~ '^[+-][0-9]+([.][0-9]+)?$')
        THEN '''' || value
        ELSE value
    END
$$;

-- A time as exports write it: RFC 3339 in UTC (`2026-12-07T03:28:26.123456Z`).
CREATE FUNCTION rfc3339(moment timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
