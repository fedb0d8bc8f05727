"""Blueprint: the officials' satisfaction reports (``/reports/``).

Pages: the overview of every unit the account may see, a unit page, a procedure-field page, the
PAR Index component and the plain-language method page. Every page takes the shared query
parameters of :mod:`survey.reports.params` and offers its tables as CSV and XLSX
(``format=csv|xlsx``) and a print view (``format=print``). Figures come from the statistics
engine through the database count table (:mod:`survey.statistics`), computed in
:mod:`survey.reports.figures`; views only parse, call and render.
"""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from survey.reports import views  # noqa: E402,F401  (registers the routes on bp)
