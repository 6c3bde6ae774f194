"""The demo store of examples/ (as examples/demo.sh builds it), for the `report html` tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import EXAMPLES, Cli

AS_OF = "2026-10-31"  # the examples' last order: the page has a backtest one horizon before
PERSONAL = ("name", "email", "phone", "id_number", "address", "birth_date")


def build_demo_store(folder: Path) -> Cli:
    """examples/ imported, cleaned, tagged twice (stage moves), audited twice, deduped."""
    cli = Cli(folder / "crm.db")
    steps = [
        ("init", "--region", "CN"),
        ("import", "contacts", EXAMPLES / "contacts.csv", "--source", "demo"),
        ("import", "contacts", EXAMPLES / "contacts_excel_gb18030.csv"),
        ("import", "orders", EXAMPLES / "orders.csv"),
        ("import", "interactions", EXAMPLES / "interactions.csv"),
        ("clean",),
        ("tag", "--as-of", "2026-07-31"),
        ("audit", "--format", "json", "--as-of", AS_OF),
        ("dedupe", "--merge", "--format", "csv"),
        ("tag", "--as-of", AS_OF),
        ("audit", "--format", "json", "--as-of", AS_OF),
    ]
    for step in steps:
        result = cli(*step)
        assert result.exit_code in (0, 1), (step, result.output)
    return cli


def copy_store(cli: Cli, folder: Path) -> Cli:
    """A private copy of a built store (for tests that write to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(cli.db, folder / "crm.db")
    toml = cli.db.parent / "custdata.toml"
    if toml.exists():
        shutil.copy(toml, folder / "custdata.toml")
    return Cli(folder / "crm.db")


def personal_values(cli: Cli) -> set[str]:
    """Every stored personal value of the demo's contacts (names of 2+ characters)."""
    values: set[str] = set()
    for column in PERSONAL:
        for (value,) in cli.sql(f"SELECT DISTINCT {column} FROM contacts "
                                f"WHERE COALESCE(trim({column}), '') != ''"):
            if len(str(value).strip()) >= 2:
                values.add(str(value).strip())
    return values
