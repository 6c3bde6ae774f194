"""The report's charts as Vega-Lite specs (plain dicts), rendered to SVG by vl-convert.

Specs are data: tests read the numbers in them before any rendering. `to_svg` renders at
build time in-process (vl-convert bundles Vega and a JavaScript engine, no network);
the SVG draws text as <text> in FONT_STACK, so Chinese labels use the reader's CJK font.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from custdata.htmlreport.model import Count, Move
from custdata.htmlreport.treemap import squarify

FONT_STACK = ('system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", '
              '"Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", '
              '"WenQuanYi Micro Hei", "Helvetica Neue", Arial, sans-serif')
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an id, never fetched
GOOD, FAIR, BAD, INK, MUTED = "#1a9850", "#d9a400", "#d73027", "#1f2937", "#6b7280"
SEGMENT_COLOURS = {
    "Champions": "#1a9850", "Loyal Customers": "#66bd63", "Potential Loyalist": "#a6d96a",
    "New Customers": "#74add1", "Promising": "#4575b4", "Need Attention": "#fee08b",
    "About To Sleep": "#fdae61", "At Risk": "#f46d43", "Can't Lose Them": "#d73027",
    "Hibernating": "#bababa", "Lost": "#878787",
    "重要价值客户": "#1a9850", "重要发展客户": "#74add1", "重要保持客户": "#fdae61",
    "重要挽留客户": "#d73027", "一般价值客户": "#a6d96a", "一般发展客户": "#4575b4",
    "一般保持客户": "#fee08b", "一般挽留客户": "#bababa",
}


def _spec(width: int, height: int, **body: Any) -> dict[str, Any]:
    # Room around the plot: the reader's font may be wider than the one Vega measured with.
    return {"$schema": SCHEMA, "width": width, "height": height, "background": "white",
            "padding": {"left": 28, "right": 64, "top": 4, "bottom": 4},
            "config": {"font": FONT_STACK, "view": {"stroke": None},
                       "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelColor": INK,
                                "titleColor": MUTED, "gridColor": "#eef0f3"}},
            **body}


def funnel(stages: Sequence[Count], labels: dict[str, str]) -> dict[str, Any]:
    """Lifecycle stages as centred bars (a funnel), widest first as stored."""
    values = [{"stage": labels.get(c.name, c.name), "n": c.count, "lo": -c.count / 2,
               "hi": c.count / 2} for c in stages]
    y = {"field": "stage", "type": "nominal", "sort": None, "title": None}
    return _spec(420, 26 * max(len(values), 1), data={"values": values}, layer=[
        {"mark": {"type": "bar", "color": "#4575b4", "cornerRadius": 2},
         "encoding": {"y": y, "x": {"field": "lo", "type": "quantitative", "axis": None},
                      "x2": {"field": "hi"}}},
        {"mark": {"type": "text", "color": INK, "align": "left", "dx": 4},
         "encoding": {"y": y, "x": {"field": "hi", "type": "quantitative"},
                      "text": {"field": "n", "type": "quantitative", "format": ","}}},
    ])


def bars(items: Sequence[tuple[str, float, str]], *, fmt: str = ",d", width: int = 420,
         colour: str = "#4575b4") -> dict[str, Any]:
    """Horizontal bars of (label, value, text shown at the bar's end), in the given order."""
    values = [{"label": label, "value": value, "text": text} for label, value, text in items]
    y = {"field": "label", "type": "nominal", "sort": None, "title": None}
    x = {"field": "value", "type": "quantitative", "title": None,
         "axis": {"format": fmt, "tickCount": 4, "tickMinStep": 1}}
    return _spec(width, 26 * max(len(values), 1), data={"values": values}, layer=[
        {"mark": {"type": "bar", "color": colour, "cornerRadius": 2},
         "encoding": {"y": y, "x": x}},
        {"mark": {"type": "text", "color": INK, "align": "left", "dx": 4},
         "encoding": {"y": y, "x": x, "text": {"field": "text"}}},
    ])


def moves(items: Sequence[Move], labels: dict[str, str], none: str) -> dict[str, Any]:
    """The last tag run's stage moves, "old → new", biggest first."""
    rows = [(f"{labels.get(m.old, m.old) if m.old else none} → {labels.get(m.new, m.new)}",
             m.count, f"{m.count:,}") for m in items]
    return bars(rows, colour="#74add1")


def segment_blocks(blocks: Sequence[tuple[str, str, int, str]], *, width: int = 760,
                   height: int = 360) -> dict[str, Any]:
    """RFM segments as a treemap: (name, label, customers, money text), area = customers."""
    shown = [b for b in blocks if b[2] > 0]
    rects = squarify([b[2] for b in shown], width, height)
    values = []
    for (name, label, count, money), (x, y, w, h) in zip(shown, rects):
        big = w >= 90 and h >= 44
        values.append({"segment": label, "x": x, "x2": x + w, "y": y, "y2": y + h,
                       "colour": SEGMENT_COLOURS.get(name, "#9ca3af"),
                       "line1": label if big else "", "line2": f"{count:,} · {money}" if big else "",
                       "tx": x + 6, "ty": y + 17})
    scale = {"x": {"type": "quantitative", "scale": {"domain": [0, width]}, "axis": None},
             "y": {"type": "quantitative", "scale": {"domain": [0, height], "reverse": True},
                   "axis": None}}
    pos = {"x": {"field": "x", **scale["x"]}, "y": {"field": "y", **scale["y"]}}
    text_pos = {"x": {"field": "tx", **scale["x"]}, "y": {"field": "ty", **scale["y"]}}
    return _spec(width, height, data={"values": values}, layer=[
        {"mark": {"type": "rect", "stroke": "white", "strokeWidth": 2},
         "encoding": {**pos, "x2": {"field": "x2"}, "y2": {"field": "y2"},
                      "color": {"field": "colour", "type": "nominal", "scale": None}}},
        {"mark": {"type": "text", "align": "left", "fontWeight": "bold", "color": INK,
                  "fontSize": 13}, "encoding": {**text_pos, "text": {"field": "line1"}}},
        {"mark": {"type": "text", "align": "left", "dy": 17, "color": INK, "fontSize": 12},
         "encoding": {**text_pos, "text": {"field": "line2"}}},
    ])


def heat_map(grid: Sequence[Sequence[int]], *, r_title: str, f_title: str) -> dict[str, Any]:
    """R (rows, 5 = most recent on top) x F (columns) customer counts as a heat map."""
    values = [{"r": r + 1, "f": f + 1, "n": n} for r, row in enumerate(grid)
              for f, n in enumerate(row)]
    top = max((v["n"] for v in values), default=0) or 1
    for v in values:
        v["ink"] = "white" if v["n"] > top * 0.55 else INK
    x = {"field": "f", "type": "ordinal", "title": f_title, "axis": {"labelAngle": 0}}
    y = {"field": "r", "type": "ordinal", "title": r_title, "sort": "descending"}
    return _spec(300, 260, data={"values": values},
                 resolve={"scale": {"color": "independent"}}, layer=[
        {"mark": "rect", "encoding": {"x": x, "y": y, "color": {
            "field": "n", "type": "quantitative", "scale": {"scheme": "blues"},
            "legend": None}}},
        {"mark": {"type": "text", "fontSize": 13}, "encoding": {
            "x": x, "y": y, "text": {"field": "n", "type": "quantitative", "format": ","},
            "color": {"field": "ink", "type": "nominal", "scale": None}}},
    ])


def risk_histogram(bands: Sequence[Count], *, x_title: str, y_title: str,
                   threshold: float) -> dict[str, Any]:
    """Customers per tenth of churn risk; bands at or above `threshold` in red."""
    values = [{"band": c.name, "n": c.count,
               "colour": BAD if float(c.name.split("-")[0]) >= threshold else "#74add1"}
              for c in bands]
    return _spec(420, 220, data={"values": values}, mark={"type": "bar", "cornerRadius": 2},
                 encoding={
                     "x": {"field": "band", "type": "ordinal", "sort": None, "title": x_title,
                           "axis": {"labelAngle": -40}},
                     "y": {"field": "n", "type": "quantitative", "title": y_title,
                           "axis": {"format": ",d", "tickCount": 4, "tickMinStep": 1}},
                     "color": {"field": "colour", "type": "nominal", "scale": None}})


def calibration(rows: Sequence[dict], *, predicted: str, observed: str,
                x_title: str, y_title: str) -> dict[str, Any]:
    """Predicted vs observed share without an order per risk decile, beside the diagonal."""
    values = [{"decile": r["decile"], "share": r[k], "series": name}
              for r in rows for k, name in (("predicted", predicted), ("observed", observed))
              if r.get(k) is not None]
    return _spec(420, 220, data={"values": values}, mark={"type": "line", "point": True},
                 encoding={
                     "x": {"field": "decile", "type": "ordinal", "title": x_title,
                           "axis": {"labelAngle": 0}},
                     "y": {"field": "share", "type": "quantitative", "title": y_title,
                           "scale": {"domain": [0, 1]}, "axis": {"format": ".0%"}},
                     "color": {"field": "series", "type": "nominal", "title": None,
                               "scale": {"range": ["#4575b4", BAD]},
                               "legend": {"orient": "bottom"}}})


def score_trend(points: Sequence[tuple[str, float]], *, y_title: str) -> dict[str, Any]:
    """The audit score per stored run (label, score), oldest first."""
    values = [{"run": label, "score": score} for label, score in points]
    return _spec(420, 200, data={"values": values},
                 mark={"type": "line", "point": True, "color": "#4575b4"},
                 encoding={
                     "x": {"field": "run", "type": "ordinal", "sort": None, "title": None,
                           "axis": {"labelAngle": -40}},
                     "y": {"field": "score", "type": "quantitative", "title": y_title,
                           "scale": {"domain": [0, 100]}}})


def part_scores(parts: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    """Audit part scores 0-100 as bars: green >= 90, amber >= 70, red below."""
    items = [(name, score or 0.0, "n/a" if score is None else f"{score:.1f}")
             for name, score in parts]
    spec = bars(items, fmt="d")
    spec["layer"][0]["mark"].pop("color")
    spec["layer"][0]["encoding"]["x"]["scale"] = {"domain": [0, 100]}
    spec["layer"][0]["encoding"]["color"] = {"field": "colour", "type": "nominal", "scale": None}
    for v, (_, score) in zip(spec["data"]["values"], parts):
        v["colour"] = MUTED if score is None else GOOD if score >= 90 else (
            FAIR if score >= 70 else BAD)
    return spec


_XML_DECL = re.compile(r"^<\?xml[^>]*>\s*")


def to_svg(spec: dict[str, Any], *, title: str) -> str:
    """The chart as one inline <svg> with role="img" and an accessible name."""
    import vl_convert

    svg = _XML_DECL.sub("", vl_convert.vegalite_to_svg(spec))
    name = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)
