"""Report rendering: parameters checked first, code-free self-contained HTML, escaping, atomic writes."""

import pytest

from arinsights.errors import ParameterError
from arinsights.reporting.report import ReportError, render_notebook, safe_filename

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def nb_dir(fixtures_dir):
    return fixtures_dir / "notebooks"


def test_renders_code_free_html_with_embedded_images_and_escaped_names(nb_dir, tmp_path):
    r = render_notebook("tiny_report", {"name": HOSTILE, "required": "x"}, tmp_path,
                        notebook_dir=nb_dir, subtitle="As of 30 June 2026", progress=False)
    html = r.html.read_text(encoding="utf-8")
    assert "As of 30 June 2026" in html
    assert HOSTILE not in html                        # never live script from data
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "data:image/png;base64," in html            # images embedded: opens offline
    assert "assert not fail" not in html               # no code
    assert "matplotlib.use" not in html and 'class="jp-InputPrompt' not in html  # no inputs
    assert 'class="jp-OutputPrompt' not in html and "In&nbsp;[" not in html  # no prompts
    assert "$1,250.00" in html
    import nbformat
    executed = nbformat.read(r.notebook, as_version=4)
    assert executed.metadata["papermill"]["parameters"]["name"] == HOSTILE  # provenance


def test_unknown_and_missing_parameters_fail_before_running(nb_dir, tmp_path):
    with pytest.raises(ParameterError, match="unknown parameter"):
        render_notebook("tiny_report", {"nmae": "x", "required": 1}, tmp_path, notebook_dir=nb_dir, progress=False)
    with pytest.raises(ParameterError, match="needs parameter"):
        render_notebook("tiny_report", {"name": "x"}, tmp_path, notebook_dir=nb_dir, progress=False)
    assert not list(tmp_path.iterdir())  # nothing ran, nothing written


def test_failing_notebook_names_the_cell_and_keeps_previous_html(nb_dir, tmp_path):
    good = render_notebook("tiny_report", {"required": 1}, tmp_path, notebook_dir=nb_dir, progress=False)
    before = good.html.read_text(encoding="utf-8")
    with pytest.raises(ReportError) as err:
        render_notebook("tiny_report", {"required": 1, "fail": True}, tmp_path, notebook_dir=nb_dir, progress=False)
    message = str(err.value)
    assert "asked to fail" in message and "cell 4" in message
    assert good.html.read_text(encoding="utf-8") == before


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd", "etc_passwd"),
    ("ACME Ltd <script>", "ACME_Ltd_script"),
    ("0379-NEVHP", "0379-NEVHP"),
    ("", "unnamed"),
    ("..", "unnamed"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_required_parameter_may_be_passed_as_none(nb_dir, tmp_path):
    r = render_notebook("tiny_report", {"required": None}, tmp_path, notebook_dir=nb_dir, progress=False)
    html = r.html.read_text(encoding="utf-8")
    assert html.count("<h1") == 1  # the notebook's own title, not a second one
    assert (r.html.stat().st_mode & 0o777) == 0o644
