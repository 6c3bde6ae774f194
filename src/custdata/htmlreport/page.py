"""`render_html`: one self-contained page (inline CSS and SVG, no script, no URL fetched)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from custdata import __version__
from custdata.htmlreport import charts, takeaways as say
from custdata.htmlreport.model import AT_RISK, Audit, Base, Churn, Duplicates, ReportData, Rfm
from custdata.htmlreport.style import CSS
from custdata.htmlreport.text import (
    key_label, money, part_label, pct, stage_label, tier_label, word,
)

SECTIONS = ("base", "rfm", "churn", "quality", "duplicates")
Render = Callable[[dict[str, Any], str], str]


def render_html(data: ReportData, *, lang: str = "en", svg: Render | None = None) -> str:
    """The whole page as one HTML string. `svg(spec, title)` renders a chart (default:
    charts.to_svg; tests pass a cheap one)."""
    draw = svg or (lambda spec, title: charts.to_svg(spec, title=title))
    w = lambda key: word(key, lang)  # noqa: E731 - a short alias reads better here
    body = [
        _header(data, lang),
        _section("base", w("base"), _base(data.base, data.currency, lang, draw)),
        _section("rfm", w("rfm"), _rfm(data.rfm, lang, draw)),
        _section("churn", w("churn"), _churn(data, lang, draw)),
        _section("quality", w("quality"), _quality(data.audit, lang, draw)),
        _section("duplicates", w("duplicates"), _duplicates(data.duplicates, lang)),
        f'<footer>{escape(w("footer").format(version=__version__))}</footer>',
    ]
    title = f'{w("title")} · {data.as_of}'
    return ("<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f'<body><main>{"".join(body)}</main></body></html>\n')


def _section(key: str, title: str, inner: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{inner}</section>'


def _lead(text: str) -> str:
    return f'<p class="takeaway">{escape(text)}</p>'


def _figure(name: str, title: str, spec: dict[str, Any], draw: Render) -> str:
    return (f'<figure class="chart" data-chart="{name}"><figcaption>{escape(title)}'
            f"</figcaption>{draw(spec, title)}</figure>")


def _table(name: str, heads: Sequence[str], rows: Sequence[Sequence[Any]],
           numeric: Sequence[int] = ()) -> str:
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{escape(h)}</th>'
                   for i, h in enumerate(heads))
    body = "".join("<tr>" + "".join(
        f'<td{" class=num" if i in numeric else ""}>{escape("" if v is None else str(v))}</td>'
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table data-table="{name}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _header(data: ReportData, lang: str) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    revenue = sum(c.revenue or 0.0 for c in data.base.tiers)
    tiles = [(f"{data.base.contacts:,}", w("kpi.contacts")),
             (f"{data.base.customers:,}", w("kpi.customers")),
             (money(revenue, data.currency, lang), w("kpi.revenue"))]
    if data.churn is not None:
        tiles.append((f"{data.churn.at_risk:,}", w("kpi.at_risk")))
    if data.audit is not None and data.audit.score is not None:
        tiles.append((f"{data.audit.score:.1f}", w("kpi.score")))
    return (f'<header><h1>{escape(w("title"))}</h1><p class="meta">'
            f'{escape(w("as_of"))} {escape(data.as_of)} · {escape(w("generated"))} '
            f'{escape(data.generated_at)}</p><p class="privacy">'
            f'{escape(w("privacy." + data.personal))}</p>{_tiles(tiles)}</header>')


def _tiles(tiles: Sequence[tuple[str, str]]) -> str:
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
        for v, k in tiles) + "</div>"


def _base(base: Base, currency: str, lang: str, draw: Render) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    labels = {c.name: stage_label(c.name, lang) for c in base.stages}
    parts = [_lead(say.base_line(base, lang)),
             '<div class="grid">',
             _figure("funnel", w("stages"), charts.funnel(base.stages, labels), draw)]
    tiers = [(tier_label(c.name, lang), c.revenue or 0.0,
              f"{money(c.revenue or 0.0, currency, lang)} · {c.count:,}") for c in base.tiers]
    parts += [_figure("tiers", w("tiers"), charts.bars(tiers, fmt="~s"), draw), "</div>",
              _lead(say.tiers_line(base, currency, lang)), _lead(say.moves_line(base, lang))]
    if base.moves:
        names = {m.old: stage_label(m.old, lang) for m in base.moves}
        names.update({m.new: stage_label(m.new, lang) for m in base.moves})
        parts.append(_figure("moves", w("moves"),
                             charts.moves(base.moves, names, word("no_stage", lang)), draw))
    return "".join(parts)


def _rfm(rfm: Rfm | None, lang: str, draw: Render) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    if rfm is None:
        return f'<p class="empty">{escape(w("no_section"))}</p>'
    blocks = [(s.name, s.label, s.customers, money(s.revenue, rfm.currency, lang))
              for s in rfm.segments]
    rows = [(s.label, f"{s.customers:,}", pct(s.share), money(s.revenue, rfm.currency, lang),
             pct(s.revenue_share), s.action) for s in rfm.segments]
    heads = [w(f"col.{k}") for k in ("segment", "customers", "share", "revenue",
                                       "revenue_share", "action")]
    return "".join([
        _lead(say.rfm_line(rfm, lang)),
        _figure("segments", w("segments"), charts.segment_blocks(blocks), draw),
        _table("segments", heads, rows, numeric=(1, 2, 3, 4)),
        _lead(say.grid_line(rfm, lang)),
        _figure("rf-grid", w("grid"), charts.heat_map(
            rfm.grid, r_title=w("r_axis"), f_title=w("f_axis")), draw),
    ])


def _churn(data: ReportData, lang: str, draw: Render) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    churn: Churn | None = data.churn
    if churn is None:
        return f'<p class="empty">{escape(w("no_section"))}: {escape(data.churn_note or "")}</p>'
    cur = data.currency
    parts = [_lead(say.churn_line(churn, cur, lang)),
             _figure("risk", w("risk_dist"), charts.risk_histogram(
                 churn.bands, x_title=w("risk_axis"), y_title=w("customers_axis"),
                 threshold=AT_RISK), draw),
             f'<h3>{escape(w("call_list"))}</h3>', _lead(say.call_line(churn, cur, lang)),
             _call_table(churn, cur, lang, personal=data.personal != "none"),
             f'<p class="note">{escape(churn.model)}</p>',
             f'<h3>{escape(w("backtest"))}</h3>', _lead(say.backtest_line(churn, lang))]
    bt = churn.backtest
    if bt is not None:
        parts.append(_tiles([("n/a" if bt.auc is None else f"{bt.auc:.2f}", w("auc")),
                             ("n/a" if bt.baseline_auc is None else f"{bt.baseline_auc:.2f}",
                              w("baseline"))]))
        parts.append(_figure("calibration", w("calibration"), charts.calibration(
            bt.calibration, predicted=w("predicted"), observed=w("observed"),
            x_title=w("decile"), y_title=w("share_no_order")), draw))
    return "".join(parts)


def _call_table(churn: Churn, currency: str, lang: str, *, personal: bool) -> str:
    keys = ["rank", "id", *(("name", "phone", "owner") if personal else ()),
            "risk", "value", "reason"]
    rows = []
    for r in churn.call_list:
        who = (r.name, r.phone, r.owner) if personal else ()
        rows.append((r.rank, r.external_id, *who, pct(r.risk),
                     money(r.value_at_risk, currency, lang), r.reason))
    n = len(keys)
    return _table("call-list", [word(f"col.{k}", lang) for k in keys], rows,
                  numeric=(0, n - 3, n - 2))


def _quality(audit: Audit | None, lang: str, draw: Render) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    if audit is None:
        return f'<p class="empty">{escape(w("no_section"))}</p>'
    parts = [_lead(say.audit_line(audit, lang)), '<div class="grid">']
    points = [(f'#{r["run"]} {str(r["at"])[:10]}', r["score"]) for r in audit.history
              if r["score"] is not None]
    if points:
        parts.append(_figure("trend", w("trend"),
                             charts.score_trend(points, y_title=w("score_axis")), draw))
    scores = [(part_label(k, lang), v) for k, v in audit.parts.items()]
    parts += [_figure("parts", w("parts"), charts.part_scores(scores), draw), "</div>",
              f'<h3>{escape(w("problems"))}</h3>', _lead(say.problems_line(audit, lang)),
              _table("problems", [w("col.part"), w("col.records"), w("col.problem")],
                     [(part_label(f.part, lang), f"{f.count:,}", f.message)
                      for f in audit.findings], numeric=(1,))]
    return "".join(parts)


def _duplicates(dup: Duplicates, lang: str) -> str:
    w = lambda key: word(key, lang)  # noqa: E731
    tiles = [(f"{dup.merges:,}", w("dup.merges")), (f"{dup.merged_contacts:,}", w("dup.removed")),
             (f"{dup.contacts_in_groups:,}", w("dup.open"))]
    if dup.undone:
        tiles.append((f"{dup.undone:,}", w("dup.undone")))
    rows = [(key_label(k, lang), f"{n:,}") for k, n in dup.groups.items()]
    return "".join([_lead(say.duplicates_line(dup, lang)), _tiles(tiles),
                    _table("duplicate-keys", [w("col.key"), w("col.groups")], rows,
                           numeric=(1,))])
