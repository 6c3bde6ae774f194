"""Fellegi–Sunter pair scoring: each field's agreement level adds log2(m/u) bits of evidence.

m = P(level | same person), u = P(level | different people). The sum of the bits plus the
prior log-odds is turned into a match probability. For exact agreement, u is raised to the
value's own frequency in the data (term-frequency adjustment), so two "张伟" or a shared
office phone count for much less than a rare name or a personal mobile.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from custdata.dedupe.columns import TF_COLUMNS, RecordColumns, value_counts
from custdata.dedupe.features import Record, to_record
from custdata.dedupe.levels import (
    ALIAS,
    CLOSE,
    DIFFERENT,
    EXACT,
    PARTIAL,
    SHARED,
    STREET,
)
from custdata.dedupe.orgs import house_number, street_key, street_part
from custdata.dedupe.person_names import HAN_PERSON_CHARS, names_level

# (m, u) per field and agreement level: set by hand (how often duplicates keep or lose
# each field; how often strangers share it), then checked and adjusted on labelled
# generator data (benchmarks/bench_dedupe.py, several seeds; see benchmarks/RESULTS.md).
# Not fitted by EM: the figures are rounded and lean towards precision.
DEFAULT_MU: dict[str, dict[str, tuple[float, float]]] = {
    "external_id": {EXACT: (0.30, 1e-7)},
    "id_number": {EXACT: (0.90, 1e-7), CLOSE: (0.05, 1e-5), DIFFERENT: (0.005, 1.0)},
    "email": {EXACT: (0.60, 1e-6), CLOSE: (0.10, 1e-5), DIFFERENT: (0.30, 1.0)},
    "phone": {EXACT: (0.60, 1e-6), CLOSE: (0.10, 1e-5), DIFFERENT: (0.30, 1.0)},
    "name": {EXACT: (0.55, 1e-5), ALIAS: (0.30, 1e-5), CLOSE: (0.12, 3e-4),
             PARTIAL: (0.03, 1e-3), SHARED: (0.03, 5e-3), DIFFERENT: (0.03, 1.0)},
    "birth_date": {EXACT: (0.85, 5e-5), CLOSE: (0.10, 5e-4), DIFFERENT: (0.02, 1.0)},
    "gender": {EXACT: (0.97, 0.5), DIFFERENT: (0.03, 0.5)},
    # Many contacts share a company: even a rare company name is not personal.
    "company": {EXACT: (0.60, 1e-3), CLOSE: (0.15, 5e-3), DIFFERENT: (0.25, 1.0)},
    "address": {EXACT: (0.50, 1e-5), CLOSE: (0.25, 1e-4), PARTIAL: (0.10, 1e-3),
                STREET: (0.04, 2e-3), DIFFERENT: (0.11, 1.0)},
    "city": {EXACT: (0.85, 0.02), CLOSE: (0.03, 0.002), DIFFERENT: (0.12, 1.0)},
    # Close: one slip (a digit wrong, two swapped), a typing error or the next district.
    "postal_code": {EXACT: (0.80, 0.005), CLOSE: (0.05, 0.01), DIFFERENT: (0.15, 1.0)},
    "province": {EXACT: (0.90, 0.2), DIFFERENT: (0.10, 0.8)},
    # Identifiers the user names (kept in `extra`: a membership or tax number).
    "other_id": {EXACT: (0.85, 1e-6), CLOSE: (0.05, 1e-5), DIFFERENT: (0.10, 1.0)},
}
# Fields whose exact agreement is weighed by how common the value is.
TF_FIELDS = ("email", "phone", "name", "birth_date", "company", "address", "city",
             "postal_code")
_TF_FIELDS = frozenset(TF_FIELDS)
COMPANY_CLOSE, CITY_CLOSE = 88, 92  # fuzzy scores (0-100) from which two values are close
SITE_OVERLAP = 0.25  # share of the weaker of a shared phone and address that counts
ADDRESS_CLOSE, ADDRESS_PARTIAL = 88, 70  # the same, for addresses (partial: same number)


@dataclass
class Model:
    """Weights for `score_pair`: m/u table, prior log2-odds, value frequencies."""

    mu: dict[str, dict[str, tuple[float, float]]] = field(default_factory=lambda: DEFAULT_MU)
    prior_bits: float = -12.0
    counts: dict[str, Counter] = field(default_factory=dict)
    population: int = 0
    min_population: int = 2000  # below this, frequencies are too noisy to trust
    fitted_at: str | None = None  # when fitted to a list (fit.fit_model), else None
    fitted_rows: int = 0  # how many records it was fitted on
    # A weak reference to the RecordColumns the counts were taken from, if any: bulk
    # scoring over those columns reads the counts off the codes.
    counted_from: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.fixed = {(name, level): math.log2(m / u)
                      for name, levels in self.mu.items() for level, (m, u) in levels.items()}
        self._tf: dict = {}

    def counted_over(self, columns: RecordColumns) -> bool:
        """Whether the counts are those of exactly these columns' records."""
        return self.counted_from is not None and self.counted_from() is columns

    def bits(self, name: str, level: str, value: Any = None) -> float:
        """log2(m/u) of one field's agreement level (u raised to the value's frequency)."""
        if value is None or name not in self.counts:
            return self.fixed[(name, level)]
        return self.count_bits(name, level, self.counts[name].get(value, 2))

    def count_bits(self, name: str, level: str, count: int) -> float:
        """`bits` of a value held by `count` records (a value never counted counts 2)."""
        cached = self._tf.get((name, level, count))
        if cached is None:
            m, u = self.mu[name][level]
            # Duplicates share their person's values, so a value seen twice may be one
            # person's; only further holders show how common it is.
            seen = count - 2
            others = max(self.population - 1, self.min_population)
            if not self.fitted_rows or level not in (EXACT, ALIAS):
                u = max(u, seen / others)
            elif seen >= 1:
                u = seen / others  # a fitted u is an average: the value's own share
            else:
                u = min(u, 1.0 / others)  # one person's value: as rare as can be told
            cached = self._tf[(name, level, count)] = math.log2(m / u)
        return cached


def _tf_value(record: Record, name: str) -> Any:
    if name == "name":
        return record.name.key if record.name else None
    return getattr(record, _TF_ATTR.get(name, name))


_TF_ATTR = {"birth_date": "birth", "postal_code": "postal", "email": "email_key",
            "phone": "phone_key"}


def prior_bits_for(population: int, *, duplicate_rate: float = 0.25,
                   min_population: int = 2000) -> float:
    """log2 prior odds that two records picked at random are the same person.

    With `duplicate_rate` duplicate pairs per record, a store of n records holds about
    rate*n matching pairs among n*n/2: the odds fall as the store grows, which is what
    keeps coincidences (two 张伟 in one city) from turning into merges in big stores.
    """
    n = max(population, min_population)
    return math.log2(2.0 * duplicate_rate / n)


def build_model(records: Iterable[Record], *, prior_bits: float | None = None,
                duplicate_rate: float = 0.25, mu: dict | None = None,
                columns: RecordColumns | None = None) -> Model:
    """A model whose term frequencies are counted over `records`; the prior follows
    from their number (`prior_bits_for`) unless given. `columns`: the records'
    `record_columns`, if already made (the counts are then taken from its codes)."""
    if columns is not None:
        counts = {name: Counter(value_counts(columns, TF_COLUMNS[name])) for name in TF_FIELDS}
        population = columns.size
    else:
        counts = {name: Counter() for name in TF_FIELDS}
        population = 0
        for record in records:
            population += 1
            for name in TF_FIELDS:
                value = _tf_value(record, name)
                if value is not None:
                    counts[name][value] += 1
    if prior_bits is None:
        prior_bits = prior_bits_for(population, duplicate_rate=duplicate_rate)
    model = Model(mu=mu or DEFAULT_MU, prior_bits=prior_bits, counts=counts,
                  population=population)
    model.counted_from = weakref.ref(columns) if columns is not None else None
    return model


@dataclass(frozen=True, slots=True)
class PairScore:
    """Match probability of two records and each field's (level, bits) contribution."""

    a: Any
    b: Any
    probability: float
    bits: float
    contributions: tuple[tuple[str, str, float], ...]


def _near_digits(x: str, y: str) -> bool:
    """One digit wrong or two adjacent digits swapped (typing slips)."""
    return len(x) == len(y) and DamerauLevenshtein.distance(x, y) <= 1


def _date_level(x: str, y: str) -> str:
    if x == y:
        return EXACT
    if _near_digits(x, y) or (x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]):
        return CLOSE
    return DIFFERENT


def _email_level(a: Record, b: Record) -> str | None:
    if a.email_key and a.email_key == b.email_key:
        return EXACT
    if a.email and b.email:
        la, _, da = a.email.partition("@")
        lb, _, db = b.email.partition("@")
        if la == lb and len(la) >= 3 and DamerauLevenshtein.distance(da, db) <= 2:
            return CLOSE  # gmial.com / gmail.com
        if da == db and len(la) >= 5 and DamerauLevenshtein.distance(la, lb) <= 1:
            return CLOSE
    return DIFFERENT if a.email_key and b.email_key else None


def _phone_level(a: Record, b: Record) -> str | None:
    if a.phone_key and a.phone_key == b.phone_key:
        return EXACT
    if a.phone and b.phone and len(a.phone) >= 8:
        if _near_digits(a.phone, b.phone) or a.phone[-8:] == b.phone[-8:]:
            return CLOSE
    return DIFFERENT if a.phone_key and b.phone_key else None


def _name_level(a: Record, b: Record) -> str | None:
    return names_level(a.name, b.name)


def _text_level(x: str | None, y: str | None, close: float) -> str | None:
    if x is None or y is None:
        return None
    if x == y:
        return EXACT
    score = max(fuzz.token_set_ratio(x, y), fuzz.ratio(x.replace(" ", ""), y.replace(" ", "")))
    return CLOSE if score >= close else DIFFERENT


def _address_level(x: str | None, y: str | None) -> str | None:
    if x is None or y is None:
        return None
    if x == y:
        return EXACT
    hx, hy = house_number(x), house_number(y)
    if hx and hy and hx != hy:  # another house number is another address, maybe on the street
        return STREET if streets_close(street_part(x), street_part(y)) else DIFFERENT
    cx, cy = x.replace(" ", ""), y.replace(" ", "")
    if cx.endswith(cy) or cy.endswith(cx):
        return CLOSE
    score = max(fuzz.token_set_ratio(x, y), fuzz.ratio(cx, cy), fuzz.token_sort_ratio(x, y))
    if score >= ADDRESS_CLOSE:
        return CLOSE
    if score >= ADDRESS_PARTIAL or street_key(x) == street_key(y) is not None:
        return PARTIAL  # no other number, and the street much the same or its name shared
    return DIFFERENT


def streets_close(x: str | None, y: str | None) -> bool:
    """Two addresses' street parts (`orgs.street_part`: None without a street word) name
    one street: the same words give or take one, or one slip in the letters."""
    if x is None or y is None:
        return False
    return max(fuzz.token_set_ratio(x, y),
               fuzz.ratio(x.replace(" ", ""), y.replace(" ", ""))) >= ADDRESS_CLOSE


def _levels(a: Record, b: Record) -> list[tuple[str, str | None]]:
    levels: list[tuple[str, str | None]] = []
    if a.external_id and a.external_id == b.external_id:
        levels.append(("external_id", EXACT))
    if a.id_key and b.id_key:
        if a.id_key == b.id_key:
            levels.append(("id_number", EXACT))
        elif a.id_number and b.id_number and _near_digits(a.id_number, b.id_number):
            levels.append(("id_number", CLOSE))
        else:
            levels.append(("id_number", DIFFERENT))
    levels.append(("email", _email_level(a, b)))
    levels.append(("phone", _phone_level(a, b)))
    levels.append(("name", _name_level(a, b)))
    if a.birth and b.birth:
        levels.append(("birth_date", _date_level(a.birth, b.birth)))
    if a.gender and b.gender:
        levels.append(("gender", EXACT if a.gender == b.gender else DIFFERENT))
    levels.append(("company", _text_level(a.company, b.company, COMPANY_CLOSE)))
    levels.append(("address", _address_level(a.address, b.address)))
    # Postal code and city say nearly the same thing: count a shared postal code, or
    # else a shared city, not both.
    city = _text_level(a.city, b.city, CITY_CLOSE)
    if a.postal and b.postal:
        same_postal = a.postal == b.postal
        levels.append(("postal_code", EXACT if same_postal
                       else CLOSE if _near_digits(a.postal, b.postal) else DIFFERENT))
        if same_postal and city in (EXACT, CLOSE):
            city = None
    levels.append(("city", city))
    if a.province and b.province:
        levels.append(("province", EXACT if a.province == b.province else DIFFERENT))
    levels.append(("other_id", other_id_level(a.other_id, b.other_id)))
    return levels


def other_id_level(x: str | None, y: str | None) -> str | None:
    """Named identifiers: exact when equal, close when one column's value is one slip
    from the other's, else different (None when either has none)."""
    if x is None or y is None:
        return None
    if x == y:
        return EXACT
    cx, _, vx = x.partition("=")
    cy, _, vy = y.partition("=")
    if cx == cy and "|" not in x + y and _near_digits(vx, vy):
        return CLOSE
    return DIFFERENT


def _field_bits(ra: Record, rb: Record, model: Model) -> list[tuple[str, str, float]]:
    out = []
    fixed = model.fixed
    for name, level in _levels(ra, rb):
        if level is None:
            continue
        if name in _TF_FIELDS and (level is EXACT or level is ALIAS
                                   or (name == "name" and ra.name.han)):
            value = _tf_value(ra, name)
            counts = model.counts.get(name)
            if counts is not None:
                other = _tf_value(rb, name)
                if other != value and counts.get(other, 0) > counts.get(value, 0):
                    value = other
            out.append((name, level, model.bits(name, level, value)))
        else:
            out.append((name, level, fixed[(name, level)]))
    return _one_site(out)


def _one_site(detail: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """A shared phone and a shared address both say "same site" (a hotel's restaurants,
    a family's landline): when both agree, the weaker one counts SITE_OVERLAP of its bits."""
    at = {name: k for k, (name, _, _) in enumerate(detail)}
    if "phone" not in at or "address" not in at:
        return detail
    phone, address = detail[at["phone"]], detail[at["address"]]
    if phone[2] <= 0 or address[2] <= 0:
        return detail
    k = at["phone"] if phone[2] <= address[2] else at["address"]
    name, level, bits = detail[k]
    detail[k] = (name, level, bits * SITE_OVERLAP)
    return detail


def pair_bits(ra: Record, rb: Record, model: Model) -> float:
    """The evidence (bits, prior excluded) of two records: `score_pair` without the detail."""
    return _total(_field_bits(ra, rb, model))


def _total(detail: list[tuple[str, str, float]]) -> float:
    """The fields' bits added in field order, one by one, so that both scorers get the
    same float (sum() adds differently from Python 3.12 on)."""
    total = 0.0
    for _, _, bits in detail:
        total += bits
    return total


def probability(bits: float, model: Model) -> float:
    """Match probability of a pair with `bits` of evidence under the model's prior."""
    total = bits + model.prior_bits
    return 1.0 / (1.0 + 2.0 ** (-total)) if total > -1000 else 0.0


def threshold_bits(threshold: float, model: Model) -> float:
    """The evidence a pair needs for a match probability of at least `threshold`."""
    if threshold >= 1.0:
        return math.inf
    if threshold <= 0.0:
        return -math.inf
    return math.log2(threshold / (1.0 - threshold)) - model.prior_bits - 1e-9


def score_pair(a: Record | Mapping[str, Any], b: Record | Mapping[str, Any],
               model: Model | None = None) -> PairScore:
    """Match probability in [0, 1] of two contacts, with each field's contribution in bits.

    Fields missing on either side count for nothing (neither for nor against).
    """
    ra = a if isinstance(a, Record) else to_record(a, 0)
    rb = b if isinstance(b, Record) else to_record(b, 1)
    model = model or Model()
    detail = _field_bits(ra, rb, model)
    contributions = tuple((name, level, round(bits, 2)) for name, level, bits in detail)
    bits = _total(detail)
    return PairScore(ra.id, rb.id, probability(bits, model), bits, contributions)
