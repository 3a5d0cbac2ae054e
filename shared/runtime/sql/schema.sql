-- The schema as shared/runtime/sql/migrations leave it, for reading: the migrations are the truth.
-- Written by `make schema`; tests/integration/test_schema_file.py checks it is current.

--
-- PostgreSQL database dump
--

--
-- Name: assignment_event_is_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.assignment_event_is_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'assignment_event is append-only';
END;
$$;

--
-- Name: assignment_request_event_is_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.assignment_request_event_is_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'assignment_request_event is append-only';
END;
$$;

--
-- Name: campaign_team_from_team_id(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.campaign_team_from_team_id() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO campaign_team (campaign_id, team_id) VALUES (NEW.id, NEW.team_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

--
-- Name: contact_zone_group(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.contact_zone_group(timezone text, phone text) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    digits text := substr(phone, 2);
    found integer;
BEGIN
    IF timezone IS NOT NULL THEN
        SELECT id INTO found FROM zone_group WHERE zones = ARRAY[timezone];
        IF found IS NULL THEN
            INSERT INTO zone_group (zones) VALUES (ARRAY[timezone])
            ON CONFLICT (zones) DO NOTHING RETURNING id INTO found;
            IF found IS NULL THEN  -- another transaction added it meanwhile
                SELECT id INTO found FROM zone_group WHERE zones = ARRAY[timezone];
            END IF;
        END IF;
        RETURN found;
    END IF;
    -- The longest known prefix of the number (phonenumbers' prefixes are at most 9 digits).
    -- Prefixes of one string sort by length, so the longest is the greatest: a backward index
    -- scan, no sort (+13 us per imported row with the contact's lookup, measured).
    SELECT p.zone_group INTO found FROM phone_zone_prefix p
    WHERE p.prefix = ANY (ARRAY[left(digits, 9), left(digits, 8), left(digits, 7),
                                left(digits, 6), left(digits, 5), left(digits, 4),
                                left(digits, 3), left(digits, 2), left(digits, 1)])
    ORDER BY p.prefix DESC
    LIMIT 1;
    IF found IS NULL THEN
        SELECT id INTO found FROM zone_group WHERE zones = '{}';
    END IF;
    RETURN found;
END
$$;

--
-- Name: conversation_zone_group(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.conversation_zone_group() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    SELECT contact_zone_group(k.timezone, k.phone) INTO NEW.zone_group
    FROM contact k WHERE k.id = NEW.contact_id;
    RETURN NEW;
END
$$;

--
-- Name: csv_cell(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.csv_cell(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT CASE
        WHEN value ~ '^[=@\t\r]' OR (value ~ '^[+-]' AND value !~ '^[+-][0-9]+([.][0-9]+)?$')
        THEN '''' || value
        ELSE value
    END
$_$;

--
-- Name: lower_pool_floor(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.lower_pool_floor() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- Every group a campaign has, pooled or not: the replies pool and the reaper walk them.
        INSERT INTO campaign_zone_group (campaign_id, zone_group, pool_floor_id)
        SELECT DISTINCT campaign_id, zone_group, 9223372036854775807::bigint FROM entered_rows
        ON CONFLICT DO NOTHING;
    END IF;
    -- The common case (a claim, a send, a reply flipping a status) puts nothing into the pool.
    IF NOT EXISTS (SELECT 1 FROM entered_rows
                   WHERE assignee_id IS NULL AND status = 'not_started') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(pool_floor_lock_key(pooled.campaign_id))
    FROM (SELECT DISTINCT campaign_id FROM entered_rows
          WHERE assignee_id IS NULL AND status = 'not_started'
          ORDER BY campaign_id) pooled;
    -- A row whose group was changed by hand enters a group the campaign may not have had.
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO campaign_zone_group (campaign_id, zone_group, pool_floor_id)
        SELECT DISTINCT campaign_id, zone_group, 9223372036854775807::bigint FROM entered_rows
        WHERE assignee_id IS NULL AND status = 'not_started'
        ON CONFLICT DO NOTHING;
    END IF;
    -- A statement of its own, so its snapshot is taken after the lock is granted.
    UPDATE campaign_zone_group z SET pool_floor_id = pooled.first_id
    FROM (SELECT campaign_id, zone_group, min(id) AS first_id FROM entered_rows
          WHERE assignee_id IS NULL AND status = 'not_started'
          GROUP BY campaign_id, zone_group) pooled
    WHERE z.campaign_id = pooled.campaign_id AND z.zone_group = pooled.zone_group
      AND pooled.first_id < z.pool_floor_id;
    RETURN NULL;
END
$$;

--
-- Name: move_conversations(uuid, bigint[], bigint[], bigint[], text, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.move_conversations(operation uuid, ids bigint[], from_ids bigint[], to_ids bigint[], expected_status text, reason text, actor bigint) RETURNS TABLE(id bigint, campaign_id bigint, zone_group integer, from_id bigint, to_id bigint)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH moves AS (
        SELECT * FROM unnest(ids, from_ids, to_ids) AS m(id, from_id, to_id)
    ), moved AS (
        UPDATE conversation c
        SET assignee_id = m.to_id,
            assigned_at = CASE WHEN m.to_id IS NULL THEN NULL ELSE now() END,
            updated_at = now()
        FROM moves m
        WHERE c.id = ANY(ids) AND c.id = m.id AND c.assignee_id IS NOT DISTINCT FROM m.from_id
          AND (expected_status IS NULL OR c.status = expected_status)
        RETURNING c.id, c.campaign_id, c.zone_group, m.from_id, m.to_id
    ), logged AS (
        INSERT INTO assignment_event (operation_id, campaign_id, from_texter_id, to_texter_id,
                                      reason, actor_id, conversation_ids)
        SELECT operation, moved.campaign_id, moved.from_id, moved.to_id, reason, actor,
               array_agg(moved.id ORDER BY moved.id)
        FROM moved
        GROUP BY moved.campaign_id, moved.from_id, moved.to_id
    )
    SELECT moved.id, moved.campaign_id, moved.zone_group, moved.from_id, moved.to_id FROM moved;
END
$$;

--
-- Name: pool_floor_lock_key(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.pool_floor_lock_key(campaign_id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT hashtextextended('pool_floor:' || campaign_id, 0) $$;

--
-- Name: refuse_orphaned_failed_initials(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.refuse_orphaned_failed_initials() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows m
               WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
                 AND NOT EXISTS (SELECT 1 FROM conversation c WHERE c.id = m.conversation_id)) THEN
        RAISE EXCEPTION 'a failed initial deleted in the same statement as its conversation is '
                        'refused: campaign_tally could not count it (migration 0021)'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'delete the messages first, then the conversations, in two statements';
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: refuse_untallied_write(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.refuse_untallied_write() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: campaign_tally could not follow it (migration 0021)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'feature_not_supported',
              HINT = 'delete the rows (or move them by a new conversation) instead';
END
$$;

--
-- Name: rfc3339(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.rfc3339(moment timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

--
-- Name: tally_conversations(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.tally_conversations() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id,
               CASE WHEN assignee_id IS NULL THEN zone_group END, count(*)
        FROM new_rows
        GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id, zg, sum(d)
        FROM (SELECT campaign_id, status, assignee_id,
                     CASE WHEN assignee_id IS NULL THEN zone_group END AS zg, 1 AS d
              FROM new_rows
              UNION ALL
              SELECT campaign_id, status, assignee_id,
                     CASE WHEN assignee_id IS NULL THEN zone_group END, -1
              FROM old_rows) moved
        GROUP BY 1, 2, 3, 4
        HAVING sum(d) <> 0;
    ELSE
        INSERT INTO campaign_tally (campaign_id, counted, assignee_id, zone_group, n)
        SELECT campaign_id, status, assignee_id,
               CASE WHEN assignee_id IS NULL THEN zone_group END, -count(*)
        FROM old_rows
        GROUP BY 1, 2, 3, 4;
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: tally_failed_initials(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.tally_failed_initials() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', count(*)
        FROM new_rows m JOIN conversation c ON c.id = m.conversation_id
        WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
        GROUP BY c.campaign_id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', sum(d)
        FROM (SELECT conversation_id, 1 AS d FROM new_rows
              WHERE kind = 'initial' AND delivery_status = 'failed'
              UNION ALL
              SELECT conversation_id, -1 FROM old_rows
              WHERE kind = 'initial' AND delivery_status = 'failed') moved
        JOIN conversation c ON c.id = moved.conversation_id
        GROUP BY c.campaign_id
        HAVING sum(d) <> 0;
    ELSE
        INSERT INTO campaign_tally (campaign_id, counted, n)
        SELECT c.campaign_id, 'failed_initials', -count(*)
        FROM old_rows m JOIN conversation c ON c.id = m.conversation_id
        WHERE m.kind = 'initial' AND m.delivery_status = 'failed'
        GROUP BY c.campaign_id;
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: app_user; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.app_user (
    id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT app_user_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

--
-- Name: app_user_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.app_user ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.app_user_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: assignment_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.assignment_event (
    id bigint CONSTRAINT assignment_event_grouped_id_not_null NOT NULL,
    operation_id uuid CONSTRAINT assignment_event_grouped_operation_id_not_null NOT NULL,
    campaign_id bigint CONSTRAINT assignment_event_grouped_campaign_id_not_null NOT NULL,
    from_texter_id bigint,
    to_texter_id bigint,
    reason text CONSTRAINT assignment_event_grouped_reason_not_null NOT NULL,
    actor_id bigint,
    conversation_ids bigint[] CONSTRAINT assignment_event_grouped_conversation_ids_not_null NOT NULL,
    created_at timestamp with time zone DEFAULT now() CONSTRAINT assignment_event_grouped_created_at_not_null NOT NULL,
    CONSTRAINT assignment_event_grouped_check CHECK ((from_texter_id IS DISTINCT FROM to_texter_id)),
    CONSTRAINT assignment_event_grouped_conversation_ids_check CHECK ((cardinality(conversation_ids) > 0)),
    CONSTRAINT assignment_event_grouped_reason_check CHECK ((reason = ANY (ARRAY['self_assign'::text, 'join'::text, 'reassign'::text, 'move'::text, 'unassign'::text, 'unhandled_timeout'::text, 'release'::text, 'done_texting'::text, 'stale_initials'::text, 'texting_hours_closed'::text])))
);

--
-- Name: assignment_event_grouped_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.assignment_event ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.assignment_event_grouped_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: assignment_move; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.assignment_move AS
 SELECT e.id AS event_id,
    e.operation_id,
    e.campaign_id,
    m.conversation_id,
    e.from_texter_id,
    e.to_texter_id,
    e.reason,
    e.actor_id,
    e.created_at
   FROM (public.assignment_event e
     CROSS JOIN LATERAL unnest(e.conversation_ids) m(conversation_id));

--
-- Name: assignment_request; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.assignment_request (
    id bigint NOT NULL,
    org_id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    texter_id bigint NOT NULL,
    kind text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    conversation_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    refusal text,
    resolved_by bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    refusal_details jsonb,
    CONSTRAINT assignment_request_kind_check CHECK ((kind = ANY (ARRAY['initials'::text, 'replies'::text]))),
    CONSTRAINT assignment_request_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'approved'::text, 'rejected'::text, 'fulfilled'::text, 'unfulfilled'::text, 'cancelled'::text])))
);

--
-- Name: assignment_request_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.assignment_request_event (
    id bigint NOT NULL,
    request_id bigint NOT NULL,
    status text NOT NULL,
    request_level text,
    actor_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: assignment_request_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.assignment_request_event ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.assignment_request_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: assignment_request_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.assignment_request ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.assignment_request_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: bridge_account; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bridge_account (
    provider text NOT NULL,
    account text NOT NULL,
    synced_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: bridge_attempt; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bridge_attempt (
    message_id bigint NOT NULL,
    provider text NOT NULL,
    account text NOT NULL,
    to_number text NOT NULL,
    from_number text,
    state text DEFAULT 'begun'::text NOT NULL,
    provider_message_id text,
    error_code text,
    calls integer DEFAULT 0 NOT NULL,
    leased_until timestamp with time zone DEFAULT now() NOT NULL,
    first_call_at timestamp with time zone,
    last_call_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT bridge_attempt_state_check CHECK ((state = ANY (ARRAY['begun'::text, 'refused'::text, 'sent'::text, 'failed'::text])))
);

--
-- Name: bridge_spool; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bridge_spool (
    id bigint NOT NULL,
    subject text NOT NULL,
    msg_id text NOT NULL,
    payload bytea NOT NULL,
    provider_message_id text,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    leased_until timestamp with time zone DEFAULT '-infinity'::timestamp with time zone NOT NULL
);

--
-- Name: bridge_spool_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.bridge_spool ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.bridge_spool_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: campaign; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign (
    id bigint NOT NULL,
    org_id bigint NOT NULL,
    team_id bigint,
    title text NOT NULL,
    status text DEFAULT 'draft'::text NOT NULL,
    self_assign boolean DEFAULT false NOT NULL,
    batch_size integer NOT NULL,
    replies_batch_size integer DEFAULT 300 NOT NULL,
    require_replies_handled boolean DEFAULT false NOT NULL,
    release_unhandled_after_minutes integer,
    texting_hours_start smallint DEFAULT 9 NOT NULL,
    texting_hours_end smallint DEFAULT 21 NOT NULL,
    sending_number text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    closing_margin_minutes smallint DEFAULT 30 NOT NULL,
    fallback_zone text,
    CONSTRAINT campaign_batch_size_check CHECK (((batch_size >= 1) AND (batch_size <= 5000))),
    CONSTRAINT campaign_check CHECK ((texting_hours_start < texting_hours_end)),
    CONSTRAINT campaign_closing_margin_minutes_check CHECK (((closing_margin_minutes >= 0) AND (closing_margin_minutes <= 720))),
    CONSTRAINT campaign_release_unhandled_after_minutes_check CHECK ((release_unhandled_after_minutes > 0)),
    CONSTRAINT campaign_replies_batch_size_check CHECK (((replies_batch_size >= 1) AND (replies_batch_size <= 5000))),
    CONSTRAINT campaign_status_check CHECK ((status = ANY (ARRAY['draft'::text, 'active'::text, 'archived'::text]))),
    CONSTRAINT campaign_texting_hours_end_check CHECK (((texting_hours_end >= 1) AND (texting_hours_end <= 24))),
    CONSTRAINT campaign_texting_hours_start_check CHECK (((texting_hours_start >= 0) AND (texting_hours_start <= 23))),
    CONSTRAINT campaign_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200)))
);

--
-- Name: campaign_export; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_export (
    id bigint NOT NULL,
    org_id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    requested_by bigint NOT NULL,
    kind text NOT NULL,
    statuses text[] DEFAULT '{}'::text[] NOT NULL,
    since timestamp with time zone,
    until timestamp with time zone,
    state text DEFAULT 'running'::text NOT NULL,
    object_name text NOT NULL,
    object_nuid text,
    size_bytes bigint DEFAULT 0 NOT NULL,
    row_count bigint,
    digest text,
    error text,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    CONSTRAINT campaign_export_kind_check CHECK ((kind = ANY (ARRAY['conversations'::text, 'messages'::text]))),
    CONSTRAINT campaign_export_state_check CHECK ((state = ANY (ARRAY['running'::text, 'complete'::text, 'failed'::text])))
);

--
-- Name: campaign_export_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.campaign_export ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.campaign_export_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: campaign_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.campaign ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.campaign_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: campaign_tally; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_tally (
    campaign_id bigint NOT NULL,
    counted text NOT NULL,
    assignee_id bigint,
    zone_group integer,
    n bigint NOT NULL,
    folded boolean DEFAULT false NOT NULL
);

--
-- Name: conversation; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.conversation (
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    contact_id bigint NOT NULL,
    status text DEFAULT 'not_started'::text NOT NULL,
    assignee_id bigint,
    needs_reply_since timestamp with time zone,
    assigned_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    zone_group integer NOT NULL,
    CONSTRAINT conversation_check CHECK (((status = 'needs_reply'::text) = (needs_reply_since IS NOT NULL))),
    CONSTRAINT conversation_status_check CHECK ((status = ANY (ARRAY['not_started'::text, 'awaiting_reply'::text, 'needs_reply'::text, 'replied'::text, 'closed'::text])))
);

--
-- Name: message; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message (
    id bigint NOT NULL,
    conversation_id bigint NOT NULL,
    direction text NOT NULL,
    kind text NOT NULL,
    texter_id bigint,
    body text NOT NULL,
    idempotency_key text,
    provider_message_id text,
    delivery_status text NOT NULL,
    error_code text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    provider_received_at timestamp with time zone,
    our_number text,
    CONSTRAINT message_delivery_status_check CHECK ((delivery_status = ANY (ARRAY['queued'::text, 'sent'::text, 'delivered'::text, 'failed'::text, 'received'::text]))),
    CONSTRAINT message_direction_check CHECK ((direction = ANY (ARRAY['outbound'::text, 'inbound'::text]))),
    CONSTRAINT message_kind_check CHECK ((kind = ANY (ARRAY['initial'::text, 'reply'::text, 'contact'::text, 'opt_out_confirmation'::text])))
);

--
-- Name: campaign_tally_recount; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.campaign_tally_recount AS
 SELECT conversation.campaign_id,
    conversation.status AS counted,
    conversation.assignee_id,
        CASE
            WHEN (conversation.assignee_id IS NULL) THEN conversation.zone_group
            ELSE NULL::integer
        END AS zone_group,
    count(*) AS n
   FROM public.conversation
  GROUP BY conversation.campaign_id, conversation.status, conversation.assignee_id,
        CASE
            WHEN (conversation.assignee_id IS NULL) THEN conversation.zone_group
            ELSE NULL::integer
        END
UNION ALL
 SELECT c.campaign_id,
    'failed_initials'::text AS counted,
    NULL::bigint AS assignee_id,
    NULL::integer AS zone_group,
    count(*) AS n
   FROM (public.message m
     JOIN public.conversation c ON ((c.id = m.conversation_id)))
  WHERE ((m.kind = 'initial'::text) AND (m.delivery_status = 'failed'::text))
  GROUP BY c.campaign_id;

--
-- Name: campaign_team; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_team (
    campaign_id bigint NOT NULL,
    team_id bigint NOT NULL
);

--
-- Name: campaign_texter; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_texter (
    campaign_id bigint NOT NULL,
    user_id bigint NOT NULL,
    joined_via text DEFAULT 'admin'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_texter_joined_via_check CHECK ((joined_via = ANY (ARRAY['admin'::text, 'invite'::text, 'team'::text])))
);

--
-- Name: campaign_zone_group; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_zone_group (
    campaign_id bigint NOT NULL,
    zone_group integer NOT NULL,
    pool_floor_id bigint NOT NULL
);

--
-- Name: consent_order; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consent_order (
    org_id bigint NOT NULL,
    phone text NOT NULL,
    stream_seq bigint NOT NULL,
    last_word text,
    newest_start_seq bigint,
    confirmed_stop_seq bigint,
    CONSTRAINT consent_order_last_word_check CHECK ((last_word = ANY (ARRAY['opt_out'::text, 'opt_in'::text])))
);

--
-- Name: contact; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contact (
    id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    phone text NOT NULL,
    first_name text DEFAULT ''::text NOT NULL,
    last_name text DEFAULT ''::text NOT NULL,
    fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    timezone text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_phone_check CHECK ((phone ~ '^\+[1-9][0-9]{6,14}$'::text))
);

--
-- Name: contact_file_import; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contact_file_import (
    id uuid NOT NULL,
    campaign_id bigint NOT NULL,
    created_by bigint NOT NULL,
    rows integer NOT NULL,
    staged integer DEFAULT 0 NOT NULL,
    state text DEFAULT 'staging'::text NOT NULL,
    result jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    touched_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_file_import_check CHECK (((staged >= 0) AND (staged <= rows))),
    CONSTRAINT contact_file_import_check1 CHECK (((state = 'committed'::text) = (result IS NOT NULL))),
    CONSTRAINT contact_file_import_rows_check CHECK (((rows >= 1) AND (rows <= 10000000))),
    CONSTRAINT contact_file_import_state_check CHECK ((state = ANY (ARRAY['staging'::text, 'committed'::text])))
);

--
-- Name: contact_file_row; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.contact_file_row (
    import_id uuid NOT NULL,
    row_no integer NOT NULL,
    phone text,
    first_name text NOT NULL,
    last_name text NOT NULL,
    fields jsonb NOT NULL,
    timezone text,
    reason text,
    CONSTRAINT contact_file_row_check CHECK (((phone IS NULL) = (reason IS NOT NULL))),
    CONSTRAINT contact_file_row_row_no_check CHECK ((row_no >= 0))
);

--
-- Name: contact_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.contact ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.contact_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: conversation_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.conversation ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.conversation_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: invite_link; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invite_link (
    token text NOT NULL,
    campaign_id bigint NOT NULL,
    kind text NOT NULL,
    created_by bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT invite_link_kind_check CHECK ((kind = ANY (ARRAY['initials'::text, 'replies'::text])))
);

--
-- Name: message_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.message ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.message_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: opt_out; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.opt_out (
    org_id bigint NOT NULL,
    phone text NOT NULL,
    source text DEFAULT 'reply'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: organization; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.organization (
    id bigint NOT NULL,
    name text NOT NULL,
    default_batch_size integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    opt_out_confirmation text DEFAULT 'You are unsubscribed and will receive no more texts from us. Reply START to resubscribe.'::text NOT NULL,
    CONSTRAINT organization_default_batch_size_check CHECK (((default_batch_size >= 1) AND (default_batch_size <= 5000))),
    CONSTRAINT organization_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT organization_opt_out_confirmation_check CHECK (((length(opt_out_confirmation) >= 1) AND (length(opt_out_confirmation) <= 320)))
);

--
-- Name: organization_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.organization ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.organization_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: organization_member; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.organization_member (
    org_id bigint NOT NULL,
    user_id bigint NOT NULL,
    role text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    request_level text DEFAULT 'auto_approve'::text NOT NULL,
    CONSTRAINT organization_member_request_level_check CHECK ((request_level = ANY (ARRAY['auto_approve'::text, 'approval_required'::text, 'do_not_approve'::text]))),
    CONSTRAINT organization_member_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'moderator'::text, 'texter'::text])))
);

--
-- Name: outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox (
    id bigint NOT NULL,
    subject text NOT NULL,
    msg_id text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_until timestamp with time zone,
    published_at timestamp with time zone
);

--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: phone_zone_prefix; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.phone_zone_prefix (
    prefix text NOT NULL,
    zone_group integer NOT NULL,
    CONSTRAINT phone_zone_prefix_prefix_check CHECK ((prefix ~ '^[0-9]{1,15}$'::text))
);

--
-- Name: provider_number; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.provider_number (
    phone text NOT NULL,
    provider text NOT NULL,
    account text NOT NULL
);

--
-- Name: removal; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.removal (
    org_id bigint NOT NULL,
    user_id bigint NOT NULL,
    campaign_id bigint,
    removed_by bigint,
    removed_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: schema_migration; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migration (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: sending_number; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sending_number (
    phone text NOT NULL,
    org_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    rate_per_second real,
    CONSTRAINT sending_number_phone_check CHECK ((phone ~ '^(\+[1-9][0-9]{6,14}|[0-9]{3,8})$'::text)),
    CONSTRAINT sending_number_rate_per_second_check CHECK (((rate_per_second IS NULL) OR ((rate_per_second > (0)::double precision) AND (rate_per_second <= (1000)::double precision))))
);

--
-- Name: team; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.team (
    id bigint NOT NULL,
    org_id bigint NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    assignment_priority integer DEFAULT 0 NOT NULL,
    assignment_kind text DEFAULT 'both'::text NOT NULL,
    max_request_size integer,
    CONSTRAINT team_assignment_kind_check CHECK ((assignment_kind = ANY (ARRAY['initials'::text, 'replies'::text, 'both'::text]))),
    CONSTRAINT team_assignment_priority_check CHECK (((assignment_priority >= '-1000000'::integer) AND (assignment_priority <= 1000000))),
    CONSTRAINT team_max_request_size_check CHECK (((max_request_size >= 1) AND (max_request_size <= 5000))),
    CONSTRAINT team_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

--
-- Name: team_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.team ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.team_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: team_member; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.team_member (
    team_id bigint NOT NULL,
    user_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: unmatched_inbound; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.unmatched_inbound (
    id bigint NOT NULL,
    provider_message_id text NOT NULL,
    from_phone text NOT NULL,
    to_phone text NOT NULL,
    body text NOT NULL,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    org_id bigint
);

--
-- Name: unmatched_inbound_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.unmatched_inbound ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.unmatched_inbound_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: zone_group; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.zone_group (
    id integer NOT NULL,
    zones text[] NOT NULL
);

--
-- Name: zone_group_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.zone_group ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME public.zone_group_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: app_user app_user_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.app_user
    ADD CONSTRAINT app_user_pkey PRIMARY KEY (id);

--
-- Name: assignment_event assignment_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_event
    ADD CONSTRAINT assignment_event_pkey PRIMARY KEY (id);

--
-- Name: assignment_request_event assignment_request_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request_event
    ADD CONSTRAINT assignment_request_event_pkey PRIMARY KEY (id);

--
-- Name: assignment_request assignment_request_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request
    ADD CONSTRAINT assignment_request_pkey PRIMARY KEY (id);

--
-- Name: bridge_account bridge_account_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bridge_account
    ADD CONSTRAINT bridge_account_pkey PRIMARY KEY (provider, account);

--
-- Name: bridge_attempt bridge_attempt_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bridge_attempt
    ADD CONSTRAINT bridge_attempt_pkey PRIMARY KEY (message_id);

--
-- Name: bridge_spool bridge_spool_msg_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bridge_spool
    ADD CONSTRAINT bridge_spool_msg_id_key UNIQUE (msg_id);

--
-- Name: bridge_spool bridge_spool_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bridge_spool
    ADD CONSTRAINT bridge_spool_pkey PRIMARY KEY (id);

--
-- Name: campaign_export campaign_export_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_export
    ADD CONSTRAINT campaign_export_pkey PRIMARY KEY (id);

--
-- Name: campaign campaign_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign
    ADD CONSTRAINT campaign_pkey PRIMARY KEY (id);

--
-- Name: campaign_team campaign_team_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_team
    ADD CONSTRAINT campaign_team_pkey PRIMARY KEY (campaign_id, team_id);

--
-- Name: campaign_texter campaign_texter_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_texter
    ADD CONSTRAINT campaign_texter_pkey PRIMARY KEY (campaign_id, user_id);

--
-- Name: campaign_zone_group campaign_zone_group_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_zone_group
    ADD CONSTRAINT campaign_zone_group_pkey PRIMARY KEY (campaign_id, zone_group);

--
-- Name: consent_order consent_order_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_order
    ADD CONSTRAINT consent_order_pkey PRIMARY KEY (org_id, phone);

--
-- Name: contact contact_campaign_id_phone_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact
    ADD CONSTRAINT contact_campaign_id_phone_key UNIQUE (campaign_id, phone);

--
-- Name: contact_file_import contact_file_import_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact_file_import
    ADD CONSTRAINT contact_file_import_pkey PRIMARY KEY (id);

--
-- Name: contact_file_row contact_file_row_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact_file_row
    ADD CONSTRAINT contact_file_row_pkey PRIMARY KEY (import_id, row_no);

--
-- Name: contact contact_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact
    ADD CONSTRAINT contact_pkey PRIMARY KEY (id);

--
-- Name: conversation conversation_contact_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversation
    ADD CONSTRAINT conversation_contact_id_key UNIQUE (contact_id);

--
-- Name: conversation conversation_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversation
    ADD CONSTRAINT conversation_pkey PRIMARY KEY (id);

--
-- Name: invite_link invite_link_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_link
    ADD CONSTRAINT invite_link_pkey PRIMARY KEY (token);

--
-- Name: message message_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_pkey PRIMARY KEY (id);

--
-- Name: opt_out opt_out_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.opt_out
    ADD CONSTRAINT opt_out_pkey PRIMARY KEY (org_id, phone);

--
-- Name: organization_member organization_member_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_member
    ADD CONSTRAINT organization_member_pkey PRIMARY KEY (org_id, user_id);

--
-- Name: organization organization_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization
    ADD CONSTRAINT organization_pkey PRIMARY KEY (id);

--
-- Name: outbox outbox_msg_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_msg_id_key UNIQUE (msg_id);

--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

--
-- Name: phone_zone_prefix phone_zone_prefix_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.phone_zone_prefix
    ADD CONSTRAINT phone_zone_prefix_pkey PRIMARY KEY (prefix);

--
-- Name: provider_number provider_number_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.provider_number
    ADD CONSTRAINT provider_number_pkey PRIMARY KEY (phone, provider, account);

--
-- Name: schema_migration schema_migration_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migration
    ADD CONSTRAINT schema_migration_pkey PRIMARY KEY (version);

--
-- Name: sending_number sending_number_org_id_phone_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sending_number
    ADD CONSTRAINT sending_number_org_id_phone_key UNIQUE (org_id, phone);

--
-- Name: sending_number sending_number_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sending_number
    ADD CONSTRAINT sending_number_pkey PRIMARY KEY (phone);

--
-- Name: team_member team_member_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_pkey PRIMARY KEY (team_id, user_id);

--
-- Name: team team_org_id_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team
    ADD CONSTRAINT team_org_id_name_key UNIQUE (org_id, name);

--
-- Name: team team_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team
    ADD CONSTRAINT team_pkey PRIMARY KEY (id);

--
-- Name: unmatched_inbound unmatched_inbound_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unmatched_inbound
    ADD CONSTRAINT unmatched_inbound_pkey PRIMARY KEY (id);

--
-- Name: unmatched_inbound unmatched_inbound_provider_message_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unmatched_inbound
    ADD CONSTRAINT unmatched_inbound_provider_message_id_key UNIQUE (provider_message_id);

--
-- Name: zone_group zone_group_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.zone_group
    ADD CONSTRAINT zone_group_pkey PRIMARY KEY (id);

--
-- Name: zone_group zone_group_zones_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.zone_group
    ADD CONSTRAINT zone_group_zones_key UNIQUE (zones);

--
-- Name: assignment_event_operation; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX assignment_event_operation ON public.assignment_event USING btree (operation_id);

--
-- Name: assignment_request_event_request; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX assignment_request_event_request ON public.assignment_request_event USING btree (request_id, id);

--
-- Name: assignment_request_org; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX assignment_request_org ON public.assignment_request USING btree (org_id, status, id);

--
-- Name: assignment_request_texter; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX assignment_request_texter ON public.assignment_request USING btree (texter_id, org_id, id);

--
-- Name: assignment_request_waiting; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX assignment_request_waiting ON public.assignment_request USING btree (org_id, texter_id) WHERE (status = 'pending'::text);

--
-- Name: bridge_attempt_provider_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX bridge_attempt_provider_id ON public.bridge_attempt USING btree (provider_message_id) WHERE (provider_message_id IS NOT NULL);

--
-- Name: bridge_attempt_unresolved; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX bridge_attempt_unresolved ON public.bridge_attempt USING btree (created_at) WHERE (state = 'begun'::text);

--
-- Name: campaign_export_campaign; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_export_campaign ON public.campaign_export USING btree (campaign_id, id);

--
-- Name: campaign_org; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_org ON public.campaign USING btree (org_id);

--
-- Name: campaign_release_on; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_release_on ON public.campaign USING btree (id) WHERE (release_unhandled_after_minutes IS NOT NULL);

--
-- Name: campaign_sending_number; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_sending_number ON public.campaign USING btree (org_id, sending_number) WHERE (sending_number IS NOT NULL);

--
-- Name: campaign_tally_campaign; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_tally_campaign ON public.campaign_tally USING btree (campaign_id);

--
-- Name: campaign_tally_unfolded; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_tally_unfolded ON public.campaign_tally USING btree (campaign_id) WHERE (NOT folded);

--
-- Name: campaign_team_team; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_team_team ON public.campaign_team USING btree (team_id);

--
-- Name: campaign_texter_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaign_texter_user ON public.campaign_texter USING btree (user_id);

--
-- Name: contact_file_import_touched; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX contact_file_import_touched ON public.contact_file_import USING btree (touched_at);

--
-- Name: contact_phone; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX contact_phone ON public.contact USING btree (phone);

--
-- Name: conversation_assignee; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_assignee ON public.conversation USING btree (assignee_id, campaign_id, status) WHERE (assignee_id IS NOT NULL);

--
-- Name: conversation_campaign_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_campaign_status ON public.conversation USING btree (campaign_id, status, id);

--
-- Name: conversation_inbox_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_inbox_page ON public.conversation USING btree (assignee_id, campaign_id, id) INCLUDE (contact_id, status, needs_reply_since) WHERE (status <> 'awaiting_reply'::text);

--
-- Name: conversation_pool_initials; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_pool_initials ON public.conversation USING btree (campaign_id, zone_group, id) WHERE ((assignee_id IS NULL) AND (status = 'not_started'::text));

--
-- Name: conversation_pool_replies; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_pool_replies ON public.conversation USING btree (campaign_id, zone_group, needs_reply_since, id) WHERE ((assignee_id IS NULL) AND (status = 'needs_reply'::text));

--
-- Name: conversation_unassigned_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_unassigned_page ON public.conversation USING btree (campaign_id, id) WHERE (assignee_id IS NULL);

--
-- Name: conversation_unhandled; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX conversation_unhandled ON public.conversation USING btree (campaign_id, needs_reply_since) WHERE ((assignee_id IS NOT NULL) AND (status = 'needs_reply'::text));

--
-- Name: invite_link_campaign; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invite_link_campaign ON public.invite_link USING btree (campaign_id, created_at);

--
-- Name: message_conversation; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_conversation ON public.message USING btree (conversation_id, id);

--
-- Name: message_idempotency; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX message_idempotency ON public.message USING btree (texter_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);

--
-- Name: message_provider_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX message_provider_id ON public.message USING btree (direction, provider_message_id) WHERE (provider_message_id IS NOT NULL);

--
-- Name: organization_member_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX organization_member_user ON public.organization_member USING btree (user_id);

--
-- Name: outbox_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_pending ON public.outbox USING btree (id) WHERE (published_at IS NULL);

--
-- Name: removal_once; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX removal_once ON public.removal USING btree (org_id, user_id, COALESCE(campaign_id, (0)::bigint));

--
-- Name: assignment_event assignment_event_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER assignment_event_append_only BEFORE DELETE OR UPDATE ON public.assignment_event FOR EACH ROW EXECUTE FUNCTION public.assignment_event_is_append_only();

--
-- Name: assignment_request_event assignment_request_event_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER assignment_request_event_append_only BEFORE DELETE OR UPDATE ON public.assignment_request_event FOR EACH ROW EXECUTE FUNCTION public.assignment_request_event_is_append_only();

--
-- Name: campaign campaign_team_from_team_id; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_team_from_team_id AFTER INSERT OR UPDATE OF team_id ON public.campaign FOR EACH ROW WHEN ((new.team_id IS NOT NULL)) EXECUTE FUNCTION public.campaign_team_from_team_id();

--
-- Name: conversation conversation_deleted_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_deleted_tallies AFTER DELETE ON public.conversation REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_conversations();

--
-- Name: conversation conversation_inserted_lowers_pool_floor; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_inserted_lowers_pool_floor AFTER INSERT ON public.conversation REFERENCING NEW TABLE AS entered_rows FOR EACH STATEMENT EXECUTE FUNCTION public.lower_pool_floor();

--
-- Name: conversation conversation_inserted_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_inserted_tallies AFTER INSERT ON public.conversation REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_conversations();

--
-- Name: conversation conversation_keeps_its_campaign; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_keeps_its_campaign BEFORE UPDATE OF campaign_id ON public.conversation FOR EACH ROW WHEN ((old.campaign_id IS DISTINCT FROM new.campaign_id)) EXECUTE FUNCTION public.refuse_untallied_write();

--
-- Name: conversation conversation_never_truncated; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_never_truncated BEFORE TRUNCATE ON public.conversation FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_untallied_write();

--
-- Name: conversation conversation_updated_lowers_pool_floor; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_updated_lowers_pool_floor AFTER UPDATE ON public.conversation REFERENCING NEW TABLE AS entered_rows FOR EACH STATEMENT EXECUTE FUNCTION public.lower_pool_floor();

--
-- Name: conversation conversation_updated_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_updated_tallies AFTER UPDATE ON public.conversation REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_conversations();

--
-- Name: conversation conversation_zone_group_on_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER conversation_zone_group_on_insert BEFORE INSERT ON public.conversation FOR EACH ROW WHEN ((new.zone_group IS NULL)) EXECUTE FUNCTION public.conversation_zone_group();

--
-- Name: message message_deleted_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_deleted_tallies AFTER DELETE ON public.message REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_failed_initials();

--
-- Name: message message_deleted_with_its_conversation; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_deleted_with_its_conversation AFTER DELETE ON public.message REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_orphaned_failed_initials();

--
-- Name: message message_inserted_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_inserted_tallies AFTER INSERT ON public.message REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_failed_initials();

--
-- Name: message message_never_truncated; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_never_truncated BEFORE TRUNCATE ON public.message FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_untallied_write();

--
-- Name: message message_updated_tallies; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_updated_tallies AFTER UPDATE ON public.message REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tally_failed_initials();

--
-- Name: assignment_request assignment_request_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request
    ADD CONSTRAINT assignment_request_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: assignment_request_event assignment_request_event_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request_event
    ADD CONSTRAINT assignment_request_event_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.assignment_request(id);

--
-- Name: assignment_request assignment_request_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request
    ADD CONSTRAINT assignment_request_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: assignment_request assignment_request_resolved_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request
    ADD CONSTRAINT assignment_request_resolved_by_fkey FOREIGN KEY (resolved_by) REFERENCES public.app_user(id);

--
-- Name: assignment_request assignment_request_texter_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.assignment_request
    ADD CONSTRAINT assignment_request_texter_id_fkey FOREIGN KEY (texter_id) REFERENCES public.app_user(id);

--
-- Name: campaign_export campaign_export_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_export
    ADD CONSTRAINT campaign_export_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: campaign_export campaign_export_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_export
    ADD CONSTRAINT campaign_export_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: campaign_export campaign_export_requested_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_export
    ADD CONSTRAINT campaign_export_requested_by_fkey FOREIGN KEY (requested_by) REFERENCES public.app_user(id);

--
-- Name: campaign campaign_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign
    ADD CONSTRAINT campaign_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: campaign campaign_sending_number_is_its_orgs; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign
    ADD CONSTRAINT campaign_sending_number_is_its_orgs FOREIGN KEY (org_id, sending_number) REFERENCES public.sending_number(org_id, phone);

--
-- Name: campaign_team campaign_team_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_team
    ADD CONSTRAINT campaign_team_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: campaign campaign_team_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign
    ADD CONSTRAINT campaign_team_id_fkey FOREIGN KEY (team_id) REFERENCES public.team(id);

--
-- Name: campaign_team campaign_team_team_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_team
    ADD CONSTRAINT campaign_team_team_id_fkey FOREIGN KEY (team_id) REFERENCES public.team(id);

--
-- Name: campaign_texter campaign_texter_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_texter
    ADD CONSTRAINT campaign_texter_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: campaign_texter campaign_texter_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_texter
    ADD CONSTRAINT campaign_texter_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.app_user(id);

--
-- Name: campaign_zone_group campaign_zone_group_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_zone_group
    ADD CONSTRAINT campaign_zone_group_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: campaign_zone_group campaign_zone_group_zone_group_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_zone_group
    ADD CONSTRAINT campaign_zone_group_zone_group_fkey FOREIGN KEY (zone_group) REFERENCES public.zone_group(id);

--
-- Name: consent_order consent_order_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_order
    ADD CONSTRAINT consent_order_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: contact contact_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact
    ADD CONSTRAINT contact_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: contact_file_import contact_file_import_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact_file_import
    ADD CONSTRAINT contact_file_import_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: contact_file_import contact_file_import_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact_file_import
    ADD CONSTRAINT contact_file_import_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.app_user(id);

--
-- Name: contact_file_row contact_file_row_import_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.contact_file_row
    ADD CONSTRAINT contact_file_row_import_id_fkey FOREIGN KEY (import_id) REFERENCES public.contact_file_import(id) ON DELETE CASCADE;

--
-- Name: conversation conversation_assignee_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversation
    ADD CONSTRAINT conversation_assignee_id_fkey FOREIGN KEY (assignee_id) REFERENCES public.app_user(id);

--
-- Name: conversation conversation_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversation
    ADD CONSTRAINT conversation_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: conversation conversation_contact_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.conversation
    ADD CONSTRAINT conversation_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES public.contact(id);

--
-- Name: invite_link invite_link_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_link
    ADD CONSTRAINT invite_link_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: invite_link invite_link_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_link
    ADD CONSTRAINT invite_link_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.app_user(id);

--
-- Name: message message_conversation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES public.conversation(id);

--
-- Name: message message_texter_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_texter_id_fkey FOREIGN KEY (texter_id) REFERENCES public.app_user(id);

--
-- Name: opt_out opt_out_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.opt_out
    ADD CONSTRAINT opt_out_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: organization_member organization_member_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_member
    ADD CONSTRAINT organization_member_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: organization_member organization_member_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_member
    ADD CONSTRAINT organization_member_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.app_user(id);

--
-- Name: phone_zone_prefix phone_zone_prefix_zone_group_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.phone_zone_prefix
    ADD CONSTRAINT phone_zone_prefix_zone_group_fkey FOREIGN KEY (zone_group) REFERENCES public.zone_group(id);

--
-- Name: provider_number provider_number_provider_account_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.provider_number
    ADD CONSTRAINT provider_number_provider_account_fkey FOREIGN KEY (provider, account) REFERENCES public.bridge_account(provider, account);

--
-- Name: removal removal_campaign_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.removal
    ADD CONSTRAINT removal_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES public.campaign(id);

--
-- Name: removal removal_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.removal
    ADD CONSTRAINT removal_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: removal removal_removed_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.removal
    ADD CONSTRAINT removal_removed_by_fkey FOREIGN KEY (removed_by) REFERENCES public.app_user(id);

--
-- Name: removal removal_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.removal
    ADD CONSTRAINT removal_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.app_user(id);

--
-- Name: sending_number sending_number_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sending_number
    ADD CONSTRAINT sending_number_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: team_member team_member_team_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_team_id_fkey FOREIGN KEY (team_id) REFERENCES public.team(id);

--
-- Name: team_member team_member_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.app_user(id);

--
-- Name: team team_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.team
    ADD CONSTRAINT team_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- Name: unmatched_inbound unmatched_inbound_org_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unmatched_inbound
    ADD CONSTRAINT unmatched_inbound_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organization(id);

--
-- PostgreSQL database dump complete
--
