"""show, history, log, backup and config show: what the store holds, from Python.

    from custdata.api import Session, records
    card = records.show(Session(db=Path("crm.db")), "email:lina@163.com")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from custdata.api import common
from custdata.api.session import Session
from custdata.models import CONTACT_FIELDS
from custdata.api.backups import backup  # noqa: F401 - `records.backup` as before

RECENT = 10  # orders and interactions a card shows


@dataclass
class ContactCard:
    """One customer: `card` (profile, order totals, RFM cell) and their latest orders and
    interactions as people read them."""

    card: dict[str, Any]
    orders: list[dict[str, Any]]
    interactions: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """The card with `recent_orders` and `recent_interactions` (show --format json)."""
        return {**self.card, "recent_orders": self.orders,
                "recent_interactions": self.interactions}


def show(session: Session, contact: str) -> ContactCard:
    """The contact that `contact` names (id, external id, email, phone; see
    api.common.resolve_contact), all of it."""
    with session.store(read_only=True) as store:
        cid = common.resolve_contact(store, contact, region=session.region)
        profile = store.contacts.get(cid) or {}
        totals = store.linked.order_totals(cid)
        orders = store.linked.orders_of(cid, limit=RECENT)
        talks = store.linked.interactions_of(cid, limit=RECENT)
        rfm = _rfm(store, cid, session)
    return ContactCard(_card(profile, totals, rfm), [_order_view(o) for o in orders],
                       [_talk_view(t) for t in talks])


def _rfm(store: Any, contact_id: int, session: Session) -> dict:
    """The RFM cell as of the last `tag` (like stage and tier); before any `tag`, today's."""
    stored = store.segments.stored_rfm(contact_id)
    if stored is not None:
        return stored
    from custdata.api import segments  # numpy and pandas only when there is scoring to do

    live = segments.rfm_of_contact(store, session.config, contact_id, session.today)
    return {**(live or {}), "as_of": session.today.isoformat()}


def _card(profile: dict, totals: dict, rfm: dict) -> dict[str, Any]:
    card: dict[str, Any] = {"id": profile["id"]}
    card.update({f: profile.get(f) for f in CONTACT_FIELDS})
    card["extra"] = json.loads(profile.get("extra") or "{}")
    card["orders"] = totals["orders"] or 0
    card["paid_orders"] = totals["paid_orders"] or 0
    card["net_amount"] = float(totals["net_amount"] or 0)
    card["first_order"] = totals["first_order"]
    card["last_order"] = totals["last_order"]
    card["rfm_cell"] = rfm.get("cell")
    card["rfm_segment"] = rfm.get("segment")
    card["rfm_as_of"] = rfm["as_of"]
    return card


def _order_view(o: dict) -> dict:
    """An order as read, with its status as custdata understands it (blank means paid)."""
    view = {k: o.get(k) for k in ("order_id", "order_date", "amount", "currency", "product",
                                  "category")}
    view["status"] = o.get("status_norm") or o.get("status")
    return view


def _talk_view(t: dict) -> dict:
    return {k: t.get(k) for k in ("at", "channel", "direction", "outcome", "satisfaction", "note")}


HISTORY_COLUMNS = ["at", "operation", "field", "old", "new", "detail", "user", "op_id"]
LOG_COLUMNS = ["id", "at", "user", "command", "input_file", "input_sha256", "counts"]
CONFIG_COLUMNS = ["section", "key", "value", "origin", "description"]


def history(session: Session, contact: str) -> list[dict]:
    """Every recorded change to one contact (HISTORY_COLUMNS), oldest first."""
    with session.store(read_only=True) as store:
        cid = common.resolve_contact(store, contact, region=session.region)
        return store.history.of(cid)


def log(session: Session, *, since: str | None = None) -> list[dict]:
    """The operation log (LOG_COLUMNS); `since`: a UTC timestamp text
    (api.common.since_timestamp) to list only later operations."""
    with session.store(read_only=True) as store:
        return store.oplog.entries(since)


def config_rows(session: Session) -> list[dict]:
    """Every setting (CONFIG_COLUMNS): effective value, where it came from, what it does."""
    return session.config.rows()
