-- A file import (`baton contacts import`) arrives in parts, one request each; the parts wait here
-- under the import's id and go into `contact` all together, in one transaction, when the import is
-- committed, or are dropped whole when it is aborted or abandoned. Nothing of a file is visible
-- in the campaign until every row of it is.
CREATE TABLE contact_file_import (
    id          uuid PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign (id),
    -- Only who started an import adds parts to it, commits it or aborts it.
    created_by  bigint NOT NULL REFERENCES app_user (id),
    -- Rows in the whole file, as the client counted them before sending any; the commit refuses
    -- to run until exactly this many are staged.
    rows        integer NOT NULL CHECK (rows BETWEEN 1 AND 10000000),
    -- Rows staged so far (each part adds its own once, under the import's row lock).
    staged      integer NOT NULL DEFAULT 0 CHECK (staged BETWEEN 0 AND rows),
    state       text NOT NULL DEFAULT 'staging' CHECK (state IN ('staging', 'committed')),
    -- The commit's answer, so that a retried commit gets it again and imports nothing twice.
    result      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Last part, commit or abort; imports untouched for a day are swept away.
    touched_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'committed') = (result IS NOT NULL))
);
CREATE INDEX contact_file_import_touched ON contact_file_import (touched_at);

CREATE TABLE contact_file_row (
    import_id  uuid NOT NULL REFERENCES contact_file_import (id) ON DELETE CASCADE,
    -- The row's place in the file, from 0: a part sent twice stages nothing new.
    row_no     integer NOT NULL CHECK (row_no >= 0),
    -- E.164; NULL when the row was rejected as it was staged (`reason` says why).
    phone      text,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    fields     jsonb NOT NULL,
    timezone   text,
    reason     text,
    PRIMARY KEY (import_id, row_no),
    CHECK ((phone IS NULL) = (reason IS NOT NULL))
);
