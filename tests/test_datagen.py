"""benchmarks/datagen.py: deterministic, the promised sizes, valid identifiers, a truth file
that matches, and a churn process with signal."""

from __future__ import annotations

import csv
import statistics
import sys
import unicodedata
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import phonenumbers
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import datagen  # noqa: E402

FILES = ("contacts.csv", "truth.csv", "orders.csv", "interactions.csv", "params.json")
PLACEHOLDERS = {"N/A", "-", "0", "无"}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    datagen.generate(out, datagen.Params(contacts=3000, seed=11))
    return out


@pytest.fixture(scope="module")
def contacts(data: Path) -> list[dict[str, str]]:
    return _rows(data / "contacts.csv")


@pytest.fixture(scope="module")
def truth(data: Path) -> dict[str, str]:
    return {r["external_id"]: r["person_id"] for r in _rows(data / "truth.csv")}


def test_same_seed_gives_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    small = datagen.Params(contacts=400, seed=3)
    datagen.generate(tmp_path / "a", small)
    datagen.generate(tmp_path / "b", small)
    datagen.generate(tmp_path / "c", datagen.Params(contacts=400, seed=4))
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "contacts.csv").read_bytes() != \
        (tmp_path / "c" / "contacts.csv").read_bytes()


def test_cli_writes_every_file(tmp_path: Path) -> None:
    assert datagen.main(["--contacts", "150", "--out", str(tmp_path), "--seed", "5",
                         "--orders-per-contact", "4"]) == 0
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0
    assert len(_rows(tmp_path / "contacts.csv")) == 150


def test_headers_are_canonical(data: Path) -> None:
    for name, header in (("contacts.csv", datagen.CONTACT_HEADER),
                         ("orders.csv", datagen.ORDER_HEADER),
                         ("interactions.csv", datagen.INTERACTION_HEADER),
                         ("truth.csv", ("external_id", "person_id"))):
        with open(data / name, newline="", encoding="utf-8") as fh:
            assert tuple(next(csv.reader(fh))) == header


def test_contact_count_is_exact_and_truth_matches(contacts, truth) -> None:
    ids = [r["external_id"] for r in contacts]
    assert len(ids) == 3000 == len(set(ids))
    assert set(ids) == set(truth)


def test_duplicate_share_is_about_fifteen_percent(truth) -> None:
    sizes = Counter(truth.values())
    people = len(sizes)
    with_dups = sum(1 for n in sizes.values() if n > 1)
    assert 0.11 < with_dups / people < 0.19
    assert max(sizes.values()) <= 4


def test_mix_of_chinese_and_western_with_mess(contacts) -> None:
    names = [r["name"] for r in contacts]
    cjk = sum(1 for n in names if any("\u4e00" <= c <= "\u9fff" for c in n))
    assert 0.35 < cjk / len(names) < 0.75
    phones = [r["phone"] for r in contacts]
    assert any(p.startswith("+86") for p in phones)
    assert any(p.startswith("0086") for p in phones)
    assert any(p.startswith("tel:") for p in phones)
    assert any(p.startswith("(0") for p in phones)          # landline with area code
    assert any("ext" in p for p in phones)
    assert any("\uff10" <= c <= "\uff19" for p in phones for c in p)   # full-width digits
    emails = [r["email"] for r in contacts]
    assert any(e != e.strip() for e in emails if e)
    assert any(e != e.lower() for e in emails if e)
    assert any(e.split("@")[-1].strip().lower() in set(datagen.TYPO_DOMAINS.values())
               for e in emails if "@" in e)


def _phone_key(raw: str) -> str | None:
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_phones_are_valid_and_never_shared_between_people(contacts, truth) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    real = invalid = 0
    for r in contacts:
        if r["phone"] and r["phone"] not in PLACEHOLDERS:
            real += 1
            key = _phone_key(r["phone"])
            if key is None:
                invalid += 1     # only the deliberate digit transpositions in duplicates
            else:
                owners[key].add(truth[r["external_id"]])
    assert invalid / real < 0.02
    assert all(len(people) == 1 for people in owners.values())


def test_emails_and_id_numbers_are_never_shared_between_people(contacts, truth) -> None:
    for field in ("email", "id_number"):
        owners: dict[str, set[str]] = defaultdict(set)
        for r in contacts:
            if r[field].strip():
                owners[unicodedata.normalize("NFKC", r[field]).strip().lower()].add(
                    truth[r["external_id"]])
        assert owners and all(len(p) == 1 for p in owners.values()), field


def test_id_numbers_have_valid_check_digit_and_match_birth_date(contacts) -> None:
    ids = [r for r in contacts if r["id_number"]]
    assert len(ids) > 200
    iso = agree = 0
    for r in ids:
        number = r["id_number"].upper()
        assert len(number) == 18
        assert datagen.id_check_digit(number[:17]) == number[17]
        if len(r["birth_date"]) == 10 and r["birth_date"][4] == "-":
            iso += 1
            agree += number[6:14] == r["birth_date"].replace("-", "")
    assert agree / iso > 0.95      # the rest are the deliberate slips in duplicates


def test_id_check_digit_against_known_number() -> None:
    # The worked example of GB 11643-1999: 11010519491231002X.
    assert datagen.id_check_digit("11010519491231002") == "X"
    assert datagen.id_number("110105", date(1949, 12, 31), 1, "F")[-1] in "0123456789X"


def test_people_who_share_a_common_name_are_told_apart(contacts, truth) -> None:
    by_person: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in contacts:
        if r["name"] == "张伟":
            by_person[truth[r["external_id"]]].append(r)
    assert len(by_person) >= 2
    phones = {pid: {_phone_key(r["phone"]) for r in rows} - {None}
              for pid, rows in by_person.items()}
    people = [p for p in phones if phones[p]]
    for i, a in enumerate(people):
        for b in people[i + 1:]:
            assert not phones[a] & phones[b]
    cities = {r["city"].rstrip("市") for rows in by_person.values() for r in rows if r["city"]}
    assert len(cities) >= 2


def test_duplicates_keep_an_exact_identifier_or_name_and_birth(contacts, truth) -> None:
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in contacts:
        groups[truth[r["external_id"]]].append(r)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    assert len(dup_groups) > 100
    variants = 0
    for g in dup_groups:
        if len({r["name"] for r in g}) > 1:
            variants += 1
    assert variants / len(dup_groups) > 0.3


def test_orders_reference_contacts_and_stay_in_the_window(data, contacts) -> None:
    ids = {r["external_id"] for r in contacts}
    orders = _rows(data / "orders.csv")
    assert 24_000 < len(orders) < 36_000          # ~10 per contact
    assert {o["customer_id"] for o in orders} <= ids
    days = [o["order_date"] for o in orders]
    assert min(days) >= "2023-11-01" and max(days) <= "2026-10-31"
    assert len({o["order_id"] for o in orders}) == len(orders)
    status = Counter(o["status"] for o in orders)
    assert set(status) == {"paid", "cancelled", "refunded"}
    assert 0.01 < status["cancelled"] / len(orders) < 0.04
    for o in orders:
        assert (float(o["amount"]) < 0) == (o["status"] == "refunded")
    assert {o["currency"] for o in orders} == {"CNY"}


def test_interactions_and_satisfaction(data, contacts) -> None:
    ids = {r["external_id"] for r in contacts}
    rows = _rows(data / "interactions.csv")
    assert {r["customer_id"] for r in rows} <= ids
    assert {r["channel"] for r in rows} == set(datagen.CHANNELS)
    sats = Counter(r["satisfaction"] for r in rows)
    assert set(sats) == {"", "1", "2", "3", "4", "5"}


def test_satisfaction_is_lower_for_customers_who_stopped_buying(data, truth) -> None:
    last: dict[str, str] = {}
    for o in _rows(data / "orders.csv"):
        pid = truth[o["customer_id"]]
        last[pid] = max(last.get(pid, ""), o["order_date"])
    gone, active = [], []
    for r in _rows(data / "interactions.csv"):
        pid = truth[r["customer_id"]]
        if r["satisfaction"] and pid in last:
            (gone if last[pid] < "2026-01-01" else active).append(int(r["satisfaction"]))
    assert statistics.mean(gone) < statistics.mean(active) - 0.5


def test_simulated_purchases_follow_the_bgnbd_expectation() -> None:
    rng = np.random.default_rng(1)
    horizon = np.full(40_000, 365.0)
    owner, days, p, dropout = datagen.simulate_purchases(rng, 40_000, horizon, 1.3, 30.0,
                                                         1.2, 18.0)
    simulated = owner.size / 40_000
    expected = float(datagen.expected_repeats(np.array([365.0]), 1.3, 30.0, 1.2, 18.0)[0])
    assert simulated == pytest.approx(expected, rel=0.05)
    assert days.min() >= 0 and days.max() < 365
    counts = np.bincount(owner, minlength=40_000)
    gone = dropout >= 0
    assert (counts[gone] > 0).all()          # one drops out only after a repeat purchase
    assert 0.05 < gone.mean() < 0.6


def test_solved_alpha_hits_the_order_target() -> None:
    alpha = datagen.solve_alpha(12.0, 1096, 1.3, 1.2, 18.0)
    grid = np.linspace(0, 1095, 256)
    assert 1 + datagen.expected_repeats(grid, 1.3, alpha, 1.2, 18.0).mean() == \
        pytest.approx(12.0, rel=1e-4)
