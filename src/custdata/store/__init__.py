"""The store: the only code that talks SQL. `Store` is assembled from one mixin per capability."""

from __future__ import annotations

from custdata.crypto import PlainProtector
from custdata.store.audit import AuditMixin
from custdata.store.churn import ChurnMixin
from custdata.store.core import CoreStore, open_store
from custdata.store.crypto import CryptoMixin
from custdata.store.dedupe import DedupeMixin
from custdata.store.forget import ForgetMixin
from custdata.store.imports import ImportMixin
from custdata.store.quality import QualityMixin
from custdata.store.segments import SegmentsMixin

# Capability mixins register here (one import + one base each).


class Store(DedupeMixin, QualityMixin, AuditMixin, SegmentsMixin, ChurnMixin, ForgetMixin, CryptoMixin, ImportMixin, CoreStore):
    """A custdata SQLite store. Use `open_store(path, ...)` to get one."""


__all__ = ["Store", "open_store", "PlainProtector"]
