"""The store's schema on PostgreSQL: one migration per SQLite migration (store/schema.py),
in PostgreSQL's types, plus the few SQLite functions the components' SQL uses.

Text columns use the "C" collation so that ORDER BY and comparisons order text by code
point, as SQLite does, whatever the server's default locale. The version lives in the
table `custdata_schema`. Append a migration here whenever one is appended to schema.py
(a test checks that both lists have the same length).
"""

from __future__ import annotations

from custdata.models import CONTACT_FIELDS

T = 'TEXT COLLATE "C"'
_contact_columns = ",\n    ".join(f"{name} {T}" for name in CONTACT_FIELDS)

# SQLite's functions and aggregates the shared SQL calls, with SQLite's results:
# julianday, date (as sqlite_date), instr, total() (0.0 over no rows), sum() over
# booleans (SQLite's comparisons are integers), group_concat, json_array_length(json, path).
COMPAT_FUNCTIONS = r"""
CREATE FUNCTION julianday(text) RETURNS double precision LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT extract(epoch FROM $1::timestamp)::double precision / 86400.0 + 2440587.5 $$;
CREATE FUNCTION sqlite_date(text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    IF $1 !~ '^\d{4}-\d{2}-\d{2}' THEN RETURN NULL; END IF;
    RETURN to_char($1::date, 'YYYY-MM-DD');
EXCEPTION WHEN others THEN RETURN NULL;
END $$;
CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT strpos($1, $2) $$;
CREATE FUNCTION custdata_total_add(double precision, double precision)
    RETURNS double precision LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + coalesce($2, 0) $$;
CREATE AGGREGATE total(double precision) (SFUNC = custdata_total_add,
    STYPE = double precision, INITCOND = '0');
CREATE FUNCTION custdata_total_bool(double precision, boolean)
    RETURNS double precision LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + coalesce($2::int, 0) $$;
CREATE AGGREGATE total(boolean) (SFUNC = custdata_total_bool,
    STYPE = double precision, INITCOND = '0');
CREATE FUNCTION custdata_sum_bool(bigint, boolean) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN $2 IS NULL THEN $1 ELSE coalesce($1, 0) + $2::int END $$;
CREATE AGGREGATE sum(boolean) (SFUNC = custdata_sum_bool, STYPE = bigint);
CREATE FUNCTION custdata_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2 ELSE $1 || ',' || $2 END $$;
CREATE AGGREGATE group_concat(text) (SFUNC = custdata_concat, STYPE = text);
CREATE FUNCTION json_array_length(text, text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT json_array_length(($1::json) #> string_to_array(substr($2, 3), '.')) $$;
CREATE FUNCTION json_extract(text, text) RETURNS text LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT ($1::json) #>> string_to_array(substr($2, 3), '.') $$;
"""

PG_MIGRATIONS: list[str] = [
    # 1: the foundation (schema.py's migration 1)
    COMPAT_FUNCTIONS + f"""
CREATE TABLE custdata_schema (version integer NOT NULL);
INSERT INTO custdata_schema VALUES (0);
CREATE TABLE contacts (
    id bigint PRIMARY KEY,
    {_contact_columns},
    extra {T} NOT NULL DEFAULT '{{}}',
    email_key {T},
    phone_key {T},
    id_number_key {T},
    phone_type {T},
    changed_at {T} NOT NULL,
    stage_changed_at {T},
    tier_changed_at {T}
);
CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_email_key ON contacts(email_key);
CREATE INDEX contacts_phone_key ON contacts(phone_key);
CREATE INDEX contacts_id_number_key ON contacts(id_number_key);
CREATE INDEX contacts_changed_at ON contacts(changed_at);

CREATE TABLE oplog (
    id bigserial PRIMARY KEY,
    at {T} NOT NULL,
    "user" {T} NOT NULL,
    command {T} NOT NULL,
    input_file {T},
    input_sha256 {T},
    counts {T} NOT NULL DEFAULT '{{}}'
);

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    order_id {T} NOT NULL UNIQUE,
    contact_id bigint REFERENCES contacts(id),
    customer_ref {T},
    order_date {T},
    amount {T},
    currency {T},
    product {T},
    category {T},
    status {T},
    extra {T} NOT NULL DEFAULT '{{}}',
    day {T},
    amount_value double precision,
    status_norm {T}
);
CREATE INDEX orders_contact ON orders(contact_id, day);

CREATE TABLE interactions (
    id bigint PRIMARY KEY,
    row_key {T} NOT NULL UNIQUE,
    contact_id bigint REFERENCES contacts(id),
    customer_ref {T},
    at {T},
    channel {T},
    direction {T},
    outcome {T},
    satisfaction {T},
    note {T},
    extra {T} NOT NULL DEFAULT '{{}}',
    day {T},
    satisfaction_value bigint
);
CREATE INDEX interactions_contact ON interactions(contact_id, day);

CREATE TABLE rejects (
    id bigserial PRIMARY KEY,
    op_id bigint REFERENCES oplog(id),
    kind {T} NOT NULL,
    input_file {T},
    line bigint NOT NULL,
    raw {T} NOT NULL,
    reason {T} NOT NULL
);

CREATE TABLE history (
    id bigserial PRIMARY KEY,
    contact_id bigint NOT NULL,
    at {T} NOT NULL,
    op_id bigint REFERENCES oplog(id),
    operation {T} NOT NULL,
    field {T} NOT NULL,
    old {T},
    new {T},
    detail {T}
);
CREATE INDEX history_contact ON history(contact_id, id);

-- seq: the order merges were made in (SQLite's rowid of this table)
CREATE TABLE merges (
    id {T} PRIMARY KEY,
    seq bigserial UNIQUE,
    at {T} NOT NULL,
    op_id bigint REFERENCES oplog(id),
    survivor_id bigint NOT NULL,
    payload {T} NOT NULL,
    undone_at {T}
);

CREATE TABLE audit_runs (
    id bigserial PRIMARY KEY,
    at {T} NOT NULL,
    score double precision NOT NULL,
    parts {T} NOT NULL
);

CREATE TABLE meta (
    key {T} PRIMARY KEY,
    value {T} NOT NULL
);
""",
    # 2: segments' covering index (schema.py's migration 2)
    """
CREATE INDEX orders_rfm ON orders(contact_id, day, status_norm, amount_value, currency);
DROP INDEX orders_contact;
""",
    # 3: each customer's RFM cell as of the last `tag`
    f"""
CREATE TABLE rfm_cells (
    contact_id bigint PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    cell {T} NOT NULL,
    segment {T} NOT NULL
);
""",
    # 4: dedupe's labelled pairs (schema.py's migration 4)
    f"""
CREATE TABLE dedupe_labels (
    contact_a bigint NOT NULL,
    contact_b bigint NOT NULL,
    same bigint NOT NULL,
    at {T} NOT NULL,
    op_id bigint REFERENCES oplog(id),
    source {T} NOT NULL,
    PRIMARY KEY (contact_a, contact_b)
);
""",
    # 5: order lines (schema.py's migration 5): every order stored before gets line "#1"
    f"""
CREATE TABLE order_lines (
    id bigserial PRIMARY KEY,
    order_pk bigint NOT NULL REFERENCES orders(id),
    line_key {T} NOT NULL,
    product {T},
    category {T},
    quantity double precision,
    amount {T},
    amount_value double precision,
    extra {T} NOT NULL DEFAULT '{{}}',
    UNIQUE (order_pk, line_key)
);
INSERT INTO order_lines (order_pk, line_key, product, category, amount, amount_value)
    SELECT id, '#1', product, category, amount, amount_value FROM orders;
""",
    # 6: the suppression list (schema.py's migration 6)
    f"""
CREATE TABLE suppressed (
    id bigserial PRIMARY KEY,
    key_hash {T} NOT NULL UNIQUE,
    kind {T} NOT NULL,
    op_id bigint REFERENCES oplog(id),
    at {T} NOT NULL
);
""",
    # 7: rejects looked up by file (schema.py's migration 7)
    """
CREATE INDEX rejects_file ON rejects(input_file, kind, line);
""",
]
