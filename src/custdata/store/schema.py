"""The store's schema as an ordered list of migrations; `PRAGMA user_version` = how many ran.

Append a migration to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from custdata.models import CONTACT_FIELDS

_contact_columns = ",\n    ".join(f"{name} TEXT" for name in CONTACT_FIELDS)

MIGRATIONS: list[str] = [
    # 1: the foundation
    f"""
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    {_contact_columns},
    extra TEXT NOT NULL DEFAULT '{{}}',
    -- match keys (normalized, or keyed blind indexes once encrypted)
    email_key TEXT,
    phone_key TEXT,
    id_number_key TEXT,
    -- phonenumbers' number type of the cleaned phone (mobile, fixed_line, ...)
    phone_type TEXT,
    -- when custdata last changed this record (any field, stage or tier)
    changed_at TEXT NOT NULL,
    stage_changed_at TEXT,
    tier_changed_at TEXT
);
CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_email_key ON contacts(email_key);
CREATE INDEX contacts_phone_key ON contacts(phone_key);
CREATE INDEX contacts_id_number_key ON contacts(id_number_key);
CREATE INDEX contacts_changed_at ON contacts(changed_at);

CREATE TABLE oplog (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    command TEXT NOT NULL,
    input_file TEXT,
    input_sha256 TEXT,
    counts TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    contact_id INTEGER REFERENCES contacts(id),
    customer_ref TEXT,
    order_date TEXT,
    amount TEXT,
    currency TEXT,
    product TEXT,
    category TEXT,
    status TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}',
    -- parsed forms used by reports (NULL when the stored text does not parse)
    day TEXT,
    amount_value REAL,
    status_norm TEXT
);
CREATE INDEX orders_contact ON orders(contact_id, day);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    row_key TEXT NOT NULL UNIQUE,
    contact_id INTEGER REFERENCES contacts(id),
    customer_ref TEXT,
    at TEXT,
    channel TEXT,
    direction TEXT,
    outcome TEXT,
    satisfaction TEXT,
    note TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}',
    day TEXT,
    satisfaction_value INTEGER
);
CREATE INDEX interactions_contact ON interactions(contact_id, day);

CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    op_id INTEGER REFERENCES oplog(id),
    kind TEXT NOT NULL,
    input_file TEXT,
    line INTEGER NOT NULL,
    raw TEXT NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    op_id INTEGER REFERENCES oplog(id),
    operation TEXT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT,
    detail TEXT
);
CREATE INDEX history_contact ON history(contact_id, id);

CREATE TABLE merges (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    op_id INTEGER REFERENCES oplog(id),
    survivor_id INTEGER NOT NULL,
    payload TEXT NOT NULL,
    undone_at TEXT
);

CREATE TABLE audit_runs (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    score REAL NOT NULL,
    parts TEXT NOT NULL
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""",
    # 2: segments: a covering index, so that the per-customer order aggregates of `tag`
    # and `report rfm` read the index in contact order instead of the table; its
    # (contact_id, day) prefix serves every query orders_contact served.
    """
CREATE INDEX orders_rfm ON orders(contact_id, day, status_norm, amount_value, currency);
DROP INDEX orders_contact;
""",
    # 3: each customer's RFM cell as of the last `tag` (meta key rfm_as_of), so that
    # `show` needs no pass over every order.
    """
CREATE TABLE rfm_cells (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
    cell TEXT NOT NULL,
    segment TEXT NOT NULL
);
""",
    # 4: dedupe's memory (issue 17): pairs a person labelled the same customer or not
    # (`dedupe --review`, `dedupe --labels FILE`), smaller contact id first; the fitted
    # model is kept in `meta` (key dedupe_model) as JSON with its fit date and row count.
    """
CREATE TABLE dedupe_labels (
    contact_a INTEGER NOT NULL,
    contact_b INTEGER NOT NULL,
    same INTEGER NOT NULL,
    at TEXT NOT NULL,
    op_id INTEGER REFERENCES oplog(id),
    source TEXT NOT NULL,
    PRIMARY KEY (contact_a, contact_b)
);
""",
    # 5: order lines (issue 18): one row per line item of an order (a Shopify or
    # Superstore export has several rows per order). An order's amount_value is the sum
    # of its lines'; every order stored before this gets its one line, "#1".
    """
CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY,
    order_pk INTEGER NOT NULL REFERENCES orders(id),
    line_key TEXT NOT NULL,
    product TEXT,
    category TEXT,
    quantity REAL,
    amount TEXT,
    amount_value REAL,
    extra TEXT NOT NULL DEFAULT '{}',
    UNIQUE (order_pk, line_key)
);
INSERT INTO order_lines (order_pk, line_key, product, category, amount, amount_value)
    SELECT id, '#1', product, category, amount, amount_value FROM orders;
""",
    # 6: the suppression list (issue 18): keyed hashes of the identifiers of people
    # erased by `forget`, never the values, so that an import does not bring them back.
    """
CREATE TABLE suppressed (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    op_id INTEGER REFERENCES oplog(id),
    at TEXT NOT NULL
);
""",
    # 7: rejects are kept once per file, line and text (issue 18): looked up by file.
    """
CREATE INDEX rejects_file ON rejects(input_file, kind, line);
""",
]

SCHEMA_VERSION = len(MIGRATIONS)
