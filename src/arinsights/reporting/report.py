"""Render the report notebooks with papermill and export code-free, self-contained HTML.

Each report is a parameterised notebook under ``notebooks/reports/``. Rendering one:

1. checks the parameters against the notebook's ``parameters`` cell *before anything runs*
   (an unknown name, or a required parameter left out, is an error);
2. executes the notebook with papermill into ``reports/<period>/<name>.ipynb`` (the executed
   notebook keeps its parameters in ``metadata.papermill``: provenance);
3. exports HTML with no code and no prompts, images embedded, and the report title and as-of
   date in the page, written atomically: a failing notebook never replaces the previous good
   HTML; the error says which cell failed and why.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nbformat

from ..errors import ArinsightsError, ParameterError

#: Reports rendered by default, in order, and their titles.
MONTHLY = "monthly_ar_report"
VALIDATION = "model_validation"
PROFILE = "customer_profile"
TITLES = {
    MONTHLY: "Monthly accounts-receivable report",
    VALIDATION: "Model validation",
    PROFILE: "Customer profile",
}


def default_notebook_dir() -> Path:
    """``notebooks/reports`` of the source checkout arinsights runs from."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "notebooks" / "reports"
        if candidate.is_dir():
            return candidate
    raise ArinsightsError(
        "cannot find the report notebooks (notebooks/reports); pass notebook_dir= or run "
        "arinsights from its source checkout"
    )


class ReportError(ArinsightsError):
    """A report notebook failed; the message names the notebook, the cell and the error."""


@dataclass(frozen=True)
class RenderedReport:
    name: str
    notebook: Path
    html: Path


def notebook_parameters(path: str | Path) -> dict[str, dict[str, Any]]:
    """The parameters declared in a notebook's ``parameters`` cell (name -> papermill info)."""
    import papermill as pm

    return dict(pm.inspect_notebook(str(path)))


def check_parameters(path: str | Path, parameters: dict[str, Any]) -> None:
    """Raise :class:`ParameterError` for unknown parameters or required ones left out.

    A parameter whose default in the notebook is ``None`` is required (it must be passed,
    though it may be passed as ``None``).
    """
    declared = notebook_parameters(path)
    name = Path(path).stem
    if not declared:
        raise ParameterError(f"notebook {name} has no cell tagged 'parameters'")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {unknown} for report {name}; it takes {sorted(declared)}"
        )
    missing = sorted(
        p for p, info in declared.items()
        if str(info.get("default")).strip() == "None" and p not in parameters
    )
    if missing:
        raise ParameterError(f"report {name} needs parameter(s) {missing}")


def _title_page(body: str, title: str, subtitle: str) -> str:
    """Put the title in the HTML <title> and the as-of line under the notebook's own heading."""
    safe_title = html.escape(title)
    line = f'<p class="ar-subtitle">{html.escape(subtitle)}</p>'
    style = (
        "<style>.ar-subtitle{color:#555;margin:-6px 0 18px;font-size:15px}"
        "body{background:#fff}</style>"
    )
    body = re.sub(r"<title>.*?</title>", f"<title>{safe_title}</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", style + "</head>", 1)
    if re.search(r"</h1>", body):
        return re.sub(r"(</h1>)", lambda m: m.group(1) + line, body, count=1)
    header = f'<header style="max-width:1100px;margin:24px auto 0;padding:0 16px"><h1>{safe_title}</h1>{line}</header>'
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + header, body, count=1)


def export_html(notebook: nbformat.NotebookNode, title: str, subtitle: str) -> str:
    """Code-free HTML: inputs and prompts excluded, images embedded, title and subtitle on top."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        exclude_anchor_links=True,
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return _title_page(body, title, subtitle)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _failed_cell(nb_path: Path) -> str:
    """Describe the first cell of an executed notebook that raised."""
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # the executed notebook may not exist if the kernel never started
        return ""
    papermill_tags = {"injected-parameters", "papermill-error-cell-tag"}
    original = [c for c in nb.cells if not papermill_tags & set(c.get("metadata", {}).get("tags", []))]
    for index, cell in enumerate(original, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                return f"cell {index} ({first_line[:80]!r}): {out.get('ename')}: {out.get('evalue')}"
    return ""


def render_notebook(
    name: str,
    parameters: dict[str, Any],
    out_dir: str | Path,
    *,
    notebook_dir: str | Path | None = None,
    output_stem: str | None = None,
    subtitle: str = "",
    progress: bool = True,
    kernel_name: str | None = None,
) -> RenderedReport:
    """Execute one report notebook and export its HTML.

    Parameters
    ----------
    name : str
        Notebook stem under ``notebook_dir`` (e.g. ``"monthly_ar_report"``).
    parameters : dict
        Values for the notebook's ``parameters`` cell; checked before anything runs.
    out_dir : path
        Folder for the executed notebook and the HTML (``reports/<period>``).
    output_stem : str, optional
        File stem of the outputs (default ``name``); must be a safe file name.
    subtitle : str
        Line under the title in the HTML (e.g. "As of 30 June 2026").

    Returns
    -------
    RenderedReport
    """
    import papermill as pm

    source = Path(notebook_dir or default_notebook_dir()) / f"{name}.ipynb"
    if not source.exists():
        raise ReportError(f"report notebook not found: {source}")
    check_parameters(source, parameters)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = output_stem or name
    if safe_filename(stem) != stem:
        raise ReportError(f"unsafe output name {stem!r}")
    executed = out_dir / f"{stem}.ipynb"
    html_path = out_dir / f"{stem}.html"
    scratch = out_dir / f".{stem}.running.ipynb"
    try:
        pm.execute_notebook(
            str(source),
            str(scratch),
            parameters=parameters,
            progress_bar=progress,
            kernel_name=kernel_name,
            cwd=str(source.parent),
        )
    except pm.PapermillExecutionError as exc:
        where = _failed_cell(scratch) or f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        raise ReportError(
            f"report {name} failed at {where}. The previous HTML (if any) was left in place; "
            f"the partly executed notebook is {scratch}"
        ) from None
    nb = nbformat.read(scratch, as_version=4)
    title = TITLES.get(name, name.replace("_", " ").capitalize())
    text = export_html(nb, title, subtitle)
    os.replace(scratch, executed)
    _atomic_write(html_path, text)
    return RenderedReport(name=name, notebook=executed, html=html_path)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(text: str, *, max_length: int = 80) -> str:
    """A file-name-safe form of ``text`` (customer ids are data, not paths).

    >>> safe_filename("../../etc/passwd")
    'etc_passwd'
    >>> safe_filename("ACME Ltd <script>")
    'ACME_Ltd_script'
    """
    cleaned = _UNSAFE.sub("_", str(text)).strip("._")
    cleaned = re.sub(r"_+", "_", cleaned)
    return (cleaned or "unnamed")[:max_length]


ProgressFn = Callable[[str], None]
