"""`report html`: one self-contained page of charts and takeaways for a sales manager.

Pure core: `render_html(ReportData, lang=...)` -> HTML text. `gather` (gather.py) fills a
ReportData from a store; it is the workflow half and moves to the api layer.
"""

from custdata.htmlreport.model import ReportData
from custdata.htmlreport.page import SECTIONS, render_html

__all__ = ["ReportData", "SECTIONS", "render_html"]
