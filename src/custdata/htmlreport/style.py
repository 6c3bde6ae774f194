"""The page's inline stylesheet: system fonts with CJK fallbacks, a phone-first layout, print rules."""

from custdata.htmlreport.charts import FONT_STACK

CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f5f6f8;color:#1f2937;font:15px/1.5 FONT;}
main{max-width:1100px;margin:0 auto;padding:16px}
header,section{background:#fff;border-radius:10px;padding:16px 20px;margin:0 0 16px;
  box-shadow:0 1px 2px rgba(0,0,0,.06)}
h1{margin:0 0 4px;font-size:1.6rem}
h2{margin:0 0 8px;font-size:1.3rem;border-bottom:2px solid #eef0f3;padding-bottom:4px}
h3{margin:18px 0 4px;font-size:1.05rem}
.meta,.note,footer{color:#6b7280;font-size:.85rem}
.privacy{margin:4px 0 10px;font-size:.9rem;color:#92400e}
.takeaway{font-size:1.05rem;font-weight:600;margin:6px 0 10px}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.tile{flex:1 1 140px;background:#f0f4fa;border-radius:8px;padding:8px 12px}
.tile b{display:block;font-size:1.4rem}
.tile span{color:#4b5563;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
figure.chart{margin:8px 0;min-width:0}
figure.chart figcaption{font-size:.9rem;color:#4b5563;margin-bottom:4px}
figure.chart svg{display:block;max-width:100%;height:auto}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:6px 0}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#f8f9fb;font-weight:600}
th{white-space:nowrap}
table[data-table="call-list"] td:nth-child(-n+4){white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.empty{color:#6b7280}
footer{text-align:center;padding:8px 0 24px}
@media (max-width:600px){main{padding:8px}header,section{padding:12px;border-radius:6px}
  h1{font-size:1.3rem}.tile b{font-size:1.15rem}table{font-size:.8rem}}
@media print{body{background:#fff;font-size:11pt}main{max-width:none;padding:0}
  header,section{box-shadow:none;border:1px solid #ddd;break-inside:avoid-page}
  figure.chart,table,tr{break-inside:avoid}.scroll{overflow:visible}
  @page{margin:12mm}}
""".replace("FONT", FONT_STACK).replace("\n", "")
