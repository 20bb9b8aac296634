"""The report notebooks: committed clean, executed on the sample, code-free and safe HTML.

The rendered reports come from a copy of the committed sample export in which one customer is
renamed ``<script>alert(1)</script>``; that customer's profile is rendered too, so the hostile
name is certain to reach the HTML (and must arrive there escaped).
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from arinsights.reporting.report import MONTHLY, PROFILE, VALIDATION, render_notebook
from arinsights.reporting.runner import render_all

pytestmark = pytest.mark.notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*/*.ipynb"))
REPORTS = {p.stem: p for p in NOTEBOOKS if p.parent.name == "reports"}
SAMPLE = REPO / "data" / "sample" / "ledger.csv"
HOSTILE = "<script>alert(1)</script>"
ESCAPED = html.escape(HOSTILE)
AS_OF = "2026-06-30"


def _slipped_customer() -> str:
    """A customer of the committed sample who slipped as of 30 June 2026 both in the ground
    truth and in the analysis (so the renamed customer shows in the monthly report's slipped
    table and summary): the first such name, alphabetically, that is no part of another name."""
    import pandas as pd

    from arinsights.analysis import analyse
    from arinsights.ingest.ledger import load_ledger

    truth = pd.read_csv(SAMPLE.parent / "ground_truth.csv")
    led = load_ledger(SAMPLE)
    seg = analyse(led.invoices, led.payments, AS_OF, with_backtest=False).segments
    found = set(seg.loc[seg["segment"] == "slipped", "customer_id"])  # transactions layout: id = name
    names = truth["customer_name"].tolist()
    both = sorted(n for n in truth.loc[truth["archetype"] == "slipped", "customer_name"] if n in found)
    unique = [n for n in both if sum(n in other for other in names) == 1]
    assert unique, "no customer of the committed sample is slipped both in truth and in the analysis"
    return unique[0]


# --------------------------------------------------------------------------- committed notebooks
def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_all_four_notebooks_exist():
    names = {p.relative_to(REPO / "notebooks").as_posix() for p in NOTEBOOKS}
    assert {"reports/monthly_ar_report.ipynb", "reports/customer_profile.ipynb", "reports/model_validation.ipynb",
            "exploratory/01_first_look.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# "), "first cell is the title"
    code = [c for c in cells if c["cell_type"] == "code"]
    for c in code:
        assert c.get("outputs") == [], f"{path.name}: committed with outputs"
        assert c.get("execution_count") is None, f"{path.name}: committed with an execution count"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and code[0] is params[0], "the first code cell is the one parameters cell"
    for stmt in ast.parse(_source(params[0])).body:
        assert isinstance(stmt, ast.Assign), "parameters cell holds assignments only"
        ast.literal_eval(stmt.value)  # raises unless a literal
    for c in code:
        tree = ast.parse(_source(c))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                             ast.Lambda))]
        assert not defs, f"{path.name}: a notebook defines no functions or classes"
    # after parameters and setup: one package call plus one display per cell
    for c in code[2:]:
        body = ast.parse(_source(c)).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), _source(c)


def test_report_parameters_match_the_runner():
    from arinsights.reporting.report import notebook_parameters

    common = {"ledger", "mapping", "sheet", "settings_path", "as_of"}
    assert set(notebook_parameters(REPORTS[MONTHLY])) == common | {"period"}
    assert set(notebook_parameters(REPORTS[VALIDATION])) == common
    profile = notebook_parameters(REPORTS[PROFILE])
    assert set(profile) == common | {"customer_id"}
    assert profile["customer_id"]["default"] == '""'  # JupyterLab default: the top of the worklist


# --------------------------------------------------------------------------- rendered reports
@pytest.fixture(scope="module")
def renamed() -> str:
    """The slipped customer renamed to a script tag (see :func:`_slipped_customer`)."""
    return _slipped_customer()


@pytest.fixture(scope="module")
def export(tmp_path_factory, renamed) -> Path:
    """A copy of the sample export with one slipped customer renamed to a script tag."""
    folder = tmp_path_factory.mktemp("export")
    text = SAMPLE.read_text(encoding="utf-8")
    assert renamed in text
    path = folder / "ledger.csv"
    path.write_text(text.replace(renamed, HOSTILE), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rendered(export, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    paths = render_all(ledgers=[str(export)], as_of=AS_OF, out=out, customers=[HOSTILE], progress=False,
                       echo=lambda _msg: None)
    assert [p.name for p in paths] == ["monthly_ar_report.html", "model_validation.html",
                                       "customer_script_alert_1_script.html"]
    return {name: p.read_text(encoding="utf-8") for name, p in zip((MONTHLY, VALIDATION, PROFILE), paths)}


def _tables(page: str) -> list[str]:
    return re.findall(r"<table\b.*?</table>", page, flags=re.S)


def _section_table(page: str, heading: str) -> str:
    start = page.index(f">{heading}<")
    return _tables(page[start:])[0]


def _first_column(table_html: str) -> list[str]:
    body = table_html.split("<tbody>", 1)[1]
    return [html.unescape(m) for m in re.findall(r"<tr>\s*<td[^>]*>(.*?)</td>", body, flags=re.S)]


@pytest.mark.parametrize("name", [MONTHLY, VALIDATION, PROFILE])
def test_html_is_code_free_with_embedded_images_and_the_date(rendered, name):
    page = rendered[name]
    for code in ("sections.", "load_ledger(", "analyse(", "import ", "display("):
        assert code not in page, f"{name}: source code {code!r} leaked into the HTML"
    assert "Traceback" not in page
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, f"{name}: warnings or errors printed"
    assert page.count("data:image/png;base64,") >= 2
    assert "As of 30 June 2026" in page


def test_monthly_has_the_slipped_table_with_customers_from_the_ledger(rendered, export):
    page = rendered[MONTHLY]
    table = _section_table(page, "Good customers who slipped")
    for header in ("Customer", "Open amount", "Oldest open invoice (days)", "Usually pays within (days, p80)",
                   "Pay run", "Recommended action", "Next action", "Reasons"):
        assert f">{header}</th>" in table
    raw = pd.read_csv(export, skiprows=1, dtype=str)
    names = set(raw["Customer"].dropna())
    shown = _first_column(table)
    assert shown and set(shown) <= names
    assert HOSTILE in shown  # the renamed slipped customer, shown (escaped) as text
    assert "30 Jun 2026" in page  # as-of in the executive summary
    for heading in ("Summary", "Key figures", "Habitual late payers", "Drifting customers", "Pay runs and billing dates",
                    "Movement since last month", "How far to trust the predictions", "Appendix: data quality"):
        assert f">{heading}<" in page


@pytest.mark.parametrize("name", [MONTHLY, VALIDATION, PROFILE])
def test_hostile_customer_name_only_escaped(rendered, name):
    page = rendered[name]
    assert HOSTILE not in page
    assert "<script>alert" not in page.lower()
    if name != VALIDATION:  # the validation report lists few customers by name
        assert ESCAPED in page


def test_rerun_gives_the_same_tables(rendered, export, tmp_path):
    params = {"ledger": [str(export.resolve())], "mapping": None, "settings_path": None, "as_of": AS_OF,
              "period": "2026-06"}
    again = render_notebook(MONTHLY, params, tmp_path, progress=False).html.read_text(encoding="utf-8")
    first, second = _tables(rendered[MONTHLY]), _tables(again)
    assert len(first) >= 10
    assert first == second


# --------------------------------------------------------------------------- exploratory
def test_first_look_runs_with_its_defaults(tmp_path):
    import nbformat
    import papermill as pm

    source = REPO / "notebooks" / "exploratory" / "01_first_look.ipynb"
    out = tmp_path / "first_look.ipynb"
    pm.execute_notebook(str(source), str(out), cwd=str(source.parent), progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
    assert sum("text/html" in o.get("data", {}) for o in outputs) >= 4
