"""Import heavy libraries on first use, so that `custdata --help` or an import does not
pay for scipy, pandas or pypinyin it never touches (start-up matters at 2 a.m. in cron)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module `name`; imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> Any:
    """`special = lazy("scipy.special")` instead of `from scipy import special`."""
    return LazyModule(name)
