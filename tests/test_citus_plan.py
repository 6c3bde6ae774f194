"""Past one server, on paper: the team store's schema checked against Citus' rules.

Citus is not packaged for Debian nor on PyPI, so nothing here runs on Citus. What can be
checked on plain PostgreSQL is checked on the store's real schema (store/pg_schema.py's
migrations, run on the test server): for the plan in the README ("Past one server:
Citus"), every table is either distributed by its contact column or a reference table;
the constraints that Citus would refuse are listed, and must stay the ones the README
names (a new table or key fails here until the plan and the README say what to do).
"""

from __future__ import annotations

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.postgres

# Distributed, co-located with contacts: table -> its distribution column (a contact id).
DISTRIBUTED = {"contacts": "id", "orders": "contact_id", "interactions": "contact_id",
               "history": "contact_id", "rfm_cells": "contact_id",
               "find_index": "contact_id", "find_dirty": "contact_id"}
# Reference tables (a copy on every node): small, or read whole, or keyed by no contact.
REFERENCE = {"custdata_schema", "meta", "oplog", "audit_runs", "suppressed", "rejects",
             "merges", "dedupe_labels", "order_lines"}

# Citus's rules (docs.citusdata.com, "Distributing tables"): a primary key or unique
# constraint of a distributed table includes its distribution column; a foreign key between
# distributed tables joins their distribution columns; a reference table has no foreign
# key to a distributed one; the distribution column of a row is never NULL.
UNIQUE_INDEXES = """
SELECT x.indrelid::regclass::text, CASE WHEN x.indisprimary THEN 'primary key'
       ELSE 'unique' END,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = x.indrelid
             AND a.attnum = ANY(x.indkey) ORDER BY a.attnum)
FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND x.indisunique
"""
FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype::text,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.conrelid
             AND a.attnum = ANY(c.conkey) ORDER BY a.attnum),
       c.confrelid::regclass::text,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.confrelid
             AND a.attnum = ANY(c.confkey) ORDER BY a.attnum)
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relnamespace = current_schema()::regnamespace AND c.contype = 'f'
ORDER BY 1, 2
"""

# What the current schema would need changed before `create_distributed_table` accepts it
# (the README lists these): surrogate ids and natural keys unique across all customers.
EXPECTED_BLOCKERS = {
    "history: primary key (id) lacks contact_id",
    "interactions: primary key (id) lacks contact_id",
    "interactions: unique (row_key) lacks contact_id",
    "orders: primary key (id) lacks contact_id",
    "orders: unique (order_id) lacks contact_id",
    "order_lines: foreign key to distributed orders from a reference table",
    "contacts: unique (external_id) lacks id",
    "orders: contact_id may be NULL (a row of an unknown customer)",
    "interactions: contact_id may be NULL (a row of an unknown customer)",
}


def _blockers(cli: Cli) -> set[str]:
    found = set()
    for table, what, cols in cli.sql(UNIQUE_INDEXES):
        column = DISTRIBUTED.get(table)
        if column and column not in cols:
            found.add(f"{table}: {what} ({', '.join(cols)}) lacks {column}")
    for table, _, _, cols, ref, _ in cli.sql(FOREIGN_KEYS):
        column = DISTRIBUTED.get(table)
        if table in REFERENCE and ref in DISTRIBUTED:
            found.add(f"{table}: foreign key to distributed {ref} from a reference table")
        if column and ref in DISTRIBUTED and column not in cols:
            found.add(f"{table}: foreign key to {ref} ({', '.join(cols)}) lacks {column}")
    for table, column in DISTRIBUTED.items():
        nullable = cli.sql("SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = "
                           "to_regclass(?) AND attname = ?", table, column)
        if nullable[0][0] and column != "id":
            found.add(f"{table}: {column} may be NULL (a row of an unknown customer)")
    return found


def test_every_table_has_a_place_in_the_citus_plan(pg_url: str) -> None:
    cli = Cli(pg_url)
    assert cli("init").exit_code == 0
    tables = {r[0] for r in cli.sql("SELECT tablename FROM pg_tables WHERE schemaname = "
                                    "current_schema()")}
    assert tables == set(DISTRIBUTED) | REFERENCE
    assert not set(DISTRIBUTED) & REFERENCE


def test_the_constraints_citus_would_refuse_are_the_ones_the_readme_names(pg_url: str) -> None:
    cli = Cli(pg_url)
    assert cli("init").exit_code == 0
    assert _blockers(cli) == EXPECTED_BLOCKERS
