"""Configuration: documented defaults, TOML overrides, and where each value came from.

Every threshold the commands use lives in DEFAULTS with a comment; `custdata init`
writes these comments into a starter `custdata.toml`, and `config show` prints the
effective value of each key with its origin.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custdata.errors import ConfigError

# (section, key) -> (default, one-line documentation). Order is the order `config show` uses.
DEFAULTS: dict[str, dict[str, tuple[Any, str]]] = {
    "general": {
        "region": ("CN", "default phone region (ISO 3166-1 alpha-2) for numbers without +country"),
        "dayfirst": (False, "read ambiguous dates like 5.1.2024 as day-first (5 January)"),
    },
    "dedupe": {
        "threshold": (0.99, "match probability a pair needs to join a cluster (0-1)"),
        "min_cluster_coherence": (
            0.5, "every pair inside a cluster needs this match probability at even prior "
            "odds (0.5: evidence for >= against), else the cluster is split"),
        "duplicate_rate": (0.25, "expected duplicate pairs per contact; sets the prior odds"),
        "max_block": (8, "blocks larger than this are paired by sorted neighbourhood only"),
        "window": (3, "sorted-neighbourhood window for blocks over max_block (dedupe "
                   "uses at least 12 for its exact-key rules, 4 or 2 for the broad name "
                   "and address keys)"),
        "identifiers": ([], "columns kept in extra (a membership or tax number...) compared, "
                        "blocked on and fitted as identifiers, e.g. [\"soc_sec_id\"]"),
    },
    "tag": {
        "new_days": (90, "one paid day, within this many days: stage `new` (older: `at_risk`)"),
        "loyal_min_orders": (5, "at least this many paid days (distinct order dates) for `loyal`"),
        "loyal_min_span_days": (365, "first-to-last paid order span for stage `loyal`"),
        "at_risk_factor": (2.0, "no order for this multiple of the usual interval: `at_risk`"),
        "at_risk_min_days": (60, "never `at_risk` before this many days without an order"),
        "churn_days": (365, "no paid order for more than this many days: `churned`"),
        "tier_window_days": (365, "trailing window (days up to --as-of) for value tiers"),
        "high_revenue_share": (0.5, "top customers making this share of window revenue: `high`"),
        "potential_revenue_share": (0.8, "next customers up to this cumulative share: `potential`"),
        "growth_factor": (1.5, "window revenue this multiple of the window before: `potential`"),
        "growth_min_orders": (2, "paid orders in the window needed to count as growing"),
    },
    "rfm": {
        "currency": ("", "report currency; empty = the single currency in the data"),
        "rates": ({}, "rates into the report currency, e.g. {USD = 7.1, EUR = 7.8}"),
    },
    "churn": {
        "horizon_days": (90, "risk = chance of no paid order within this many days (backtest too)"),
        "min_customers": (50, "fewest customers with a paid order needed to fit the churn model"),
        "min_repeat_customers": (10, "fewest customers with 2+ order days needed to fit it"),
        "contact_days": (30, "an interaction within this many days counts as being in touch"),
    },
    "crypto": {
        "columns": (
            ["email", "phone", "id_number", "address", "birth_date"],
            "contact columns that `encrypt` protects",
        ),
    },
    "audit": {
        "stale_days": (90, "contacts not updated for longer than this are stale"),
        "retention_days": (
            1825, "contacts with no update, order or interaction for this long are past retention"
        ),
        "weights": (
            {"completeness": 20, "validity": 25, "uniqueness": 15, "freshness": 10,
             "consistency": 15, "security": 15},
            "weight of each part in the overall score (a part left out keeps its default)",
        ),
        "field_weights": (
            {"name": 3, "email": 3, "phone": 3, "company": 2, "owner": 2, "consent": 2,
             "country": 2, "city": 1, "province": 1, "address": 1, "postal_code": 1,
             "title": 1, "industry": 1, "source": 1, "created_at": 1},
            "importance of each contact field in completeness (fields left out do not count)",
        ),
        "validity_fields": (
            ["email", "phone", "id_number", "birth_date", "created_at", "updated_at", "country"],
            "fields whose values `validate` judges for the validity part",
        ),
    },
}


@dataclass
class Config:
    """Effective configuration: values by section, and the origin of each value."""

    values: dict[str, dict[str, Any]]
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    path: Path | None = None

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values[name])

    def rows(self) -> list[dict[str, Any]]:
        """One row per setting: section, key, value, origin, description."""
        out = []
        for section, keys in DEFAULTS.items():
            for key, (_, doc) in keys.items():
                out.append({
                    "section": section, "key": key, "value": self.values[section][key],
                    "origin": self.origins.get((section, key), "default"), "description": doc,
                })
        return out


def default_config() -> Config:
    values = {s: {k: copy.deepcopy(v[0]) for k, v in keys.items()} for s, keys in DEFAULTS.items()}
    return Config(values)


def load_config(path: Path | None) -> Config:
    """Defaults overlaid with the TOML file at `path` (if it exists)."""
    config = default_config()
    if path is None or not path.exists():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}. Fix or remove it.") from exc
    config.path = path
    for section, table in data.items():
        if section not in DEFAULTS or not isinstance(table, dict):
            raise ConfigError(
                f"Unknown config section [{section}] in {path}; "
                f"known sections: {', '.join(DEFAULTS)}."
            )
        for key, value in table.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(
                    f"Unknown setting {section}.{key} in {path}; "
                    "run `custdata config show` to list the settings."
                )
            default = DEFAULTS[section][key][0]
            if not _same_kind(default, value):
                raise ConfigError(
                    f"Setting {section}.{key} in {path} should be {type(default).__name__}, "
                    f"not {type(value).__name__}."
                )
            config.values[section][key] = float(value) if isinstance(default, float) else value
            config.origins[(section, key)] = str(path)
    return config


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def starter_toml(region: str) -> str:
    """A commented custdata.toml listing every setting with its default."""
    lines = ["# custdata configuration. Uncomment a line to change it.",
             "# `custdata config show` prints the effective values and their origins.", ""]
    for section, keys in DEFAULTS.items():
        lines.append(f"[{section}]")
        for key, (default, doc) in keys.items():
            lines.append(f"# {doc}")
            if section == "general" and key == "region":
                lines.append(f"region = {_toml_value(region)}")
            else:
                lines.append(f"# {key} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)
