"""The pure half of `report html`: chart specs carry the gathered numbers, the treemap
tiles its area, takeaways read the data, personal values follow the key."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from custdata.htmlreport import render_html
from custdata.api.report_html import personal_value
from custdata.api.report_html_churn import risk_bands
from custdata.htmlreport.model import (
    Audit, Backtest, Base, CallRow, Churn, Count, Duplicates, Finding, Move, ReportData, Rfm,
    Segment,
)
from custdata.htmlreport.takeaways import churn_line, grid_line
from custdata.htmlreport.text import money
from custdata.htmlreport.treemap import squarify


def _data() -> ReportData:
    segments = [Segment("Champions", "Champions", 30, 0.3, 9000.0, 0.6, "Reward them."),
                Segment("At Risk", "At Risk", 50, 0.5, 5000.0, 0.33, "Call them."),
                Segment("Lost", "Lost", 20, 0.2, 1000.0, 0.07, "Let go.")]
    calibration = [{"decile": d, "customers": 10, "min_risk": 0.0, "max_risk": 1.0,
                    "predicted": d / 10, "observed": d / 11} for d in range(1, 11)]
    return ReportData(
        as_of="2026-10-31", generated_at="2026-11-01 07:00 UTC", currency="CNY",
        base=Base(contacts=140, customers=100,
                  stages=[Count("lead", 40), Count("repeat", 60), Count("at_risk", 40)],
                  tiers=[Count("high", 10, 8000.0), Count("nurture", 130, 7000.0)],
                  moves=[Move("repeat", "at_risk", 7), Move("", "lead", 3)],
                  moves_at="2026-10-31T01:00:00Z", moves_as_of="2026-10-31"),
        rfm=Rfm("standard", "CNY", segments,
                [[1, 2, 3, 4, 5], [0] * 5, [2] * 5, [3] * 5, [9, 8, 7, 6, 5]]),
        churn=Churn(horizon_days=90, scored=100,
                    bands=[Count(f"{i / 10:.1f}-{(i + 1) / 10:.1f}", 10, 100.0)
                           for i in range(10)],
                    at_risk=50, value_at_risk=5000.0, high_at_risk=42,
                    high_value_at_risk=1_200_000.0,
                    call_list=[CallRow(1, "C1", "张***", "138****8000", "王***", 0.9, 500.0,
                                       "at_risk", "high", "no order for 90 days")],
                    model="BG/NBD", backtest=Backtest("2026-08-02", 100, 40, 0.81, 0.7,
                                                      calibration)),
        audit=Audit(score=81.5, parts={"completeness": 90.0, "security": None},
                    weights={"completeness": 20.0, "security": 15.0},
                    findings=[Finding("completeness", 12, 140, "12 of 140 have no email")],
                    history=[{"run": 1, "at": "2026-10-01T00:00:00Z", "score": 79.0,
                              "change": None}]),
        duplicates=Duplicates({"email_key": 2}, 4, 3, 5, 0, "2026-10-30T00:00:00Z"),
        personal="masked")


def _specs(data: ReportData, lang: str = "en") -> dict[str, dict]:
    """Every chart's spec, by its data-chart name, as render_html hands them to the renderer."""
    seen: list[dict] = []
    page = render_html(data, lang=lang, svg=lambda spec, title: seen.append(spec) or "<svg></svg>")
    names = [part.split('"', 1)[0] for part in page.split('data-chart="')[1:]]
    return dict(zip(names, seen))


def _values(spec: dict) -> list[dict]:
    return spec["data"]["values"]


def test_every_chart_spec_holds_the_numbers_of_the_data() -> None:
    data = _data()
    specs = _specs(data)
    assert [v["n"] for v in _values(specs["funnel"])] == [40, 60, 40]
    assert [v["value"] for v in _values(specs["tiers"])] == [8000.0, 7000.0]
    assert [v["value"] for v in _values(specs["moves"])] == [7, 3]
    cells = {(v["r"], v["f"]): v["n"] for v in _values(specs["rf-grid"])}
    assert all(cells[(r + 1, f + 1)] == data.rfm.grid[r][f] for r in range(5) for f in range(5))
    assert [v["n"] for v in _values(specs["risk"])] == [10] * 10
    observed = [v["share"] for v in _values(specs["calibration"]) if v["series"] == "observed"]
    assert observed == [r["observed"] for r in data.churn.backtest.calibration]
    assert [v["score"] for v in _values(specs["trend"])] == [79.0]
    assert [v["colour"] for v in _values(specs["parts"])] == ["#1a9850", "#6b7280"]


def test_segment_blocks_have_areas_in_proportion_to_customers() -> None:
    blocks = _values(_specs(_data())["segments"])
    areas = {b["segment"]: (b["x2"] - b["x"]) * (b["y2"] - b["y"]) for b in blocks}
    assert areas["At Risk"] / areas["Lost"] == pytest.approx(50 / 20)
    assert areas["Champions"] / areas["Lost"] == pytest.approx(30 / 20)


@pytest.mark.parametrize("values", [[2, 1, 1], [5, 4, 3, 2, 1, 1, 1], [1], [7, 0, 3]])
def test_squarify_tiles_the_area_without_overlap(values: list[int]) -> None:
    rects = squarify(values, 400, 300)
    total = sum(values)
    for v, (x, y, w, h) in zip(values, rects):
        assert w * h == pytest.approx(v / total * 400 * 300)
        assert x >= -1e-9 and y >= -1e-9 and x + w <= 400 + 1e-6 and y + h <= 300 + 1e-6
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in combinations(rects, 2):
        overlap = max(0, min(x1 + w1, x2 + w2) - max(x1, x2)) * max(
            0, min(y1 + h1, y2 + h2) - max(y1, y2))
        assert overlap == pytest.approx(0, abs=1e-6)


def test_risk_bands_put_each_risk_in_its_tenth() -> None:
    import numpy as np

    bands = risk_bands(np.array([0.0, 0.05, 0.5, 0.99, 1.0]), np.array([1, 2, 3, 4, 5.0]))
    assert [b.count for b in bands] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert bands[9].revenue == 9.0 and bands[9].name == "0.9-1.0"


def test_takeaways_read_the_numbers() -> None:
    data = _data()
    assert churn_line(data.churn, "CNY", "en").startswith(
        "42 high-value customers are at risk: ¥1.2M of trailing-year revenue")
    assert churn_line(data.churn, "CNY", "zh").startswith("42 个高价值客户有流失风险：过去一年收入 ¥120.0万")
    assert grid_line(data.rfm, "en").startswith(
        "17 customers (22.7%) bought recently and often (R≥4, F≥4); 3 (4.0%)")


@pytest.mark.parametrize("value, currency, lang, text", [
    (1_234_567, "CNY", "en", "¥1.2M"), (1_234_567, "CNY", "zh", "¥123.5万"),
    (999, "USD", "en", "$999"), (2_500, "XYZ", "en", "XYZ 2.5K"), (-1500, "EUR", "en", "-€1.5K"),
])
def test_money(value: float, currency: str, lang: str, text: str) -> None:
    assert money(value, currency, lang) == text


def test_personal_values_follow_the_key() -> None:
    masked = personal_value(sealed=(), key_available=False, no_pii=False)
    assert masked("phone", "+8613800138000") == "+86138****8000"
    assert masked("name", "张三丰") == "张***"
    keyed = personal_value(sealed=("phone", "email"), key_available=True, no_pii=False)
    assert keyed("phone", "+8613800138000") == "+8613800138000"
    assert keyed("email", "zhang@qq.com") == "z***@qq.com" and keyed("name", "张三丰") == "张***"
    sealed = personal_value(sealed=("phone",), key_available=False, no_pii=False)
    assert sealed("phone", "+86138****8000") == "+86138****8000"  # masked by the protector
    gone = personal_value(sealed=(), key_available=True, no_pii=True)
    assert gone("phone", "+8613800138000") is None and gone("name", "张三丰") is None


def test_page_escapes_what_it_prints() -> None:
    from dataclasses import replace

    data = _data()
    row = replace(data.churn.call_list[0], reason="<script>alert(1)</script>")
    page = render_html(replace(data, churn=replace(data.churn, call_list=[row])),
                       svg=lambda spec, title: "<svg></svg>")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_chinese_page_labels_and_untagged_stage() -> None:
    specs = _specs(_data(), "zh")
    assert [v["stage"] for v in _values(specs["funnel"])] == ["潜在客户", "复购客户", "流失风险客户"]
    assert _values(specs["moves"])[1]["label"] == "（无） → 潜在客户"
    assert math.isclose(sum(v["n"] for v in _values(specs["rf-grid"])), 75)
