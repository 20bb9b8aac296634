"""Read any export file into a grid of strings, with provenance.

:func:`read_grid` turns a CSV/TXT, XLSX or Parquet export into a :class:`Grid`: every cell
as a string (``""`` when empty), no header interpretation, and for each grid row its
physical position in the file (line number for text, sheet row for Excel), so every later
message and reject can point at the row a user sees in their editor or spreadsheet.

Text files
----------
* Encoding: UTF-8 with a byte order mark (``utf-8-sig``), UTF-8, UTF-16 with a byte order
  mark (Excel's "Unicode text"), else Windows-1252 (``cp1252``). A file that is none of
  these raises :class:`~arinsights.errors.InputError` naming the byte offset.
* Delimiter: the one of ``,`` ``;`` tab ``|`` that splits the first 50 non-blank lines into
  the most consistent number of fields (quote-aware).
* Every physical line is a row, blank lines included (as all-empty rows), so ``rows`` are
  line numbers. Ragged lines (title lines with one field) are padded with ``""``. Nothing is
  converted: ids keep their leading zeros.
* SAP pipe exports (``|Account|Document Number|...|``): the empty field before the first
  and after the last pipe is dropped, cells are stripped of their fixed-width padding, and
  ruler lines (``|-----|`` or ``-----``) are kept as rows for the readers to skip.

Spreadsheets and Parquet
------------------------
* XLSX: the only non-empty sheet, or the one named by ``sheet``; ``rows`` are sheet rows;
  ``typed`` keeps the native values (datetimes, floats); ``cells`` holds ``str(value)``
  (e.g. ``"2025-03-02 00:00:00"``, ``"45123.0"``), which :mod:`arinsights.ingest.parsing`
  reads.
* Parquet: the column names are row 1 of ``cells`` and the data rows are numbered
  2..n+1, so readers treat every file alike; ``typed`` has the same shape, its first
  (header) row missing and the data in their native dtypes.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .._parallel import together
from ..errors import InputError

__all__ = ["Grid", "read_grid", "TEXT_SUFFIXES", "EXCEL_SUFFIXES", "PARQUET_SUFFIXES"]

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".tab", ".dat", ".prn")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_REEXPORT_HINT = ("Re-export the file as CSV UTF-8 (in Excel: Save As > 'CSV UTF-8'), or give "
                  "the encoding explicitly.")


class Grid:
    """A file's content as strings, before any header interpretation.

    Attributes
    ----------
    file : str
        The path as given (used in messages and provenance).
    cells : pandas.DataFrame
        All values as strings (``""`` for empty), columns ``0..n-1``, default RangeIndex.
    rows : numpy.ndarray
        1-based physical line number (text) or sheet row (Excel) of each row of ``cells``.
    encoding : str or None
        ``"utf-8"``, ``"utf-8-sig"``, ``"utf-16"``, ``"cp1252"`` (or as given); None for
        Excel/Parquet.
    delimiter : str or None
        ``","``, ``";"``, ``"\\t"`` or ``"|"``; None for Excel/Parquet.
    sheet : str or None
        The Excel sheet read.
    typed : pandas.DataFrame or None
        Excel/Parquet only: the same grid with native types (datetime, float), same shape
        and labels as ``cells``.
    arrow : list of pyarrow.Array or None
        Regular text files read by ``pyarrow.csv``: the same cells as Arrow string arrays,
        one per column (no Python string per cell). ``cells`` is then built from them
        only when first asked for; the readers use these arrays directly.
    """

    def __init__(self, file: str, cells: pd.DataFrame | None, rows: np.ndarray, encoding: str | None,
                 delimiter: str | None, sheet: str | None, typed: pd.DataFrame | None = None,
                 arrow: list[pa.Array] | None = None):
        if cells is None and arrow is None:
            raise ValueError("a Grid needs cells or Arrow columns")
        self.file = file
        self._cells = cells
        self.rows = rows
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheet = sheet
        self.typed = typed
        self.arrow = arrow

    @property
    def cells(self) -> pd.DataFrame:
        if self._cells is None:
            self._cells = pd.DataFrame({i: _to_objects(col) for i, col in enumerate(self.arrow)},
                                       index=pd.RangeIndex(len(self.rows)), dtype=object)
        return self._cells

    @cells.setter
    def cells(self, value: pd.DataFrame) -> None:
        self._cells = value
        self.arrow = None

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        ncols = len(self.arrow) if self._cells is None else self._cells.shape[1]
        return (f"Grid(file={self.file!r}, shape=({len(self)}, {ncols}), encoding={self.encoding!r}, "
                f"delimiter={self.delimiter!r}, sheet={self.sheet!r})")


def read_grid(path: str | Path, *, sheet: str | None = None, encoding: str | None = None,
              delimiter: str | None = None) -> Grid:
    """Read an export file into a :class:`Grid` of strings.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.txt``/``.tsv`` text export, an ``.xlsx`` or ``.xls`` workbook (an
        ``.xls`` that is tab-separated text, as SAP's "Spreadsheet" download writes, is read
        as text) or a ``.parquet`` file.
    sheet : str, optional
        Excel sheet to read; required when a workbook has several non-empty sheets.
    encoding : str, optional
        Text encoding; detected when not given.
    delimiter : str, optional
        Text delimiter; detected when not given.

    Returns
    -------
    Grid

    Raises
    ------
    InputError
        Missing file, a directory, an empty file, an unsupported extension, an undecodable
        text file, an unknown or ambiguous sheet.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> _ = open(p, "w").write("id;amount\\n007;1,5\\n")
    >>> g = read_grid(p)
    >>> g.delimiter, g.cells.values.tolist(), g.rows.tolist()
    (';', [['id', 'amount'], ['007', '1,5']], [1, 2])
    """
    file = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=file,
                         hint="Check the path and the file name (including its extension).")
    if p.is_dir():
        raise InputError("this is a folder, not a file", file=file,
                         hint="Give the path of the export file inside it.")
    suffix = p.suffix.lower()
    if p.stat().st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=file,
                         hint="Export the report again; the export may have been interrupted.")
    if suffix in TEXT_SUFFIXES:
        return _read_text(p, file, encoding=encoding, delimiter=delimiter)
    if suffix == ".xls":
        return _read_xls(p, file, sheet=sheet, encoding=encoding, delimiter=delimiter)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(p, file, sheet=sheet)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(p, file)
    supported = ", ".join(TEXT_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES)
    raise InputError(f"unsupported file type {suffix or '(no extension)'!r}", file=file,
                     hint=f"arinsights reads {supported}. Export the ledger as CSV or XLSX.")


# --------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------

def _decode(data: bytes, file: str, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", file=file,
                             hint="Use e.g. 'utf-8' or 'cp1252'.") from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"cannot be read as {encoding}: byte {exc.start} (0x{data[exc.start]:02x}) "
                f"is not valid there", file=file, hint=_REEXPORT_HINT) from None
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        enc = None
    if enc:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"starts with a {enc} byte order mark but byte {exc.start} is not valid {enc}",
                file=file, hint=_REEXPORT_HINT) from None
    nul = data.find(b"\x00", 0, 1 << 16)
    if nul >= 0:
        raise InputError(
            f"this does not look like a text export (byte {nul} is a NUL byte; is it a "
            f"spreadsheet or a compressed file renamed to {Path(file).suffix}?)",
            file=file, hint=_REEXPORT_HINT)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot be read as UTF-8 or Windows-1252: byte {exc.start} "
            f"(0x{data[exc.start]:02x}) is not valid in either", file=file,
            hint=_REEXPORT_HINT) from None


_RULER_CHARS = set("-=_+| \t")


def _is_ruler(line: str) -> bool:
    """A dashed separator line such as ``|-------|`` or ``-------``."""
    s = line.strip()
    return bool(s) and set(s) <= _RULER_CHARS and ("-" in s or "=" in s)


def _head_lines(text: str) -> list[str]:
    """The first ``_SNIFF_LINES`` non-blank, non-ruler lines of ``text.splitlines()``.

    Splits a growing prefix of the text instead of the whole file (a 1M-row export would
    otherwise become a list of a million strings just to look at its first 50 lines).
    """
    size = 1 << 16
    while True:
        whole = size >= len(text)
        parts = text[:size].splitlines()
        if not whole and parts:
            parts = parts[:-1]  # the last line of a prefix may be cut
        lines = []
        for line in parts:
            if line.strip() and not _is_ruler(line):
                lines.append(line)
                if len(lines) >= _SNIFF_LINES:
                    return lines
        if whole:
            return lines
        size *= 4


def _sniff_delimiter(text: str, lines: list[str] | None = None) -> str:
    """The delimiter giving the most consistent multi-field split of the first lines
    (``lines``: the :func:`_head_lines` of ``text`` when already known)."""
    if lines is None:
        lines = _head_lines(text)
    if not lines:
        return ","
    sample = "\n".join(lines)
    best, best_score = ",", (0, 0, 0)
    for rank, delim in enumerate(_DELIMITERS):
        quoting = csv.QUOTE_NONE if delim == "|" else csv.QUOTE_MINIMAL
        try:
            counts = [len(rec) for rec in csv.reader(io.StringIO(sample), delimiter=delim,
                                                     quoting=quoting)]
        except csv.Error:
            continue
        if len(counts) > 1 and len(lines) >= _SNIFF_LINES:
            counts = counts[:-1]  # the last record may be cut by the sample
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (freq, mode, -rank)
        if score > best_score:
            best, best_score = delim, score
    return best


def _max_fields_upper_bound(text: str, delim: str) -> tuple[int, int]:
    """(upper bound of fields per line, exact max over lines without quotes).

    Counts delimiters per line with numpy; a line holding a quote may have delimiters
    inside quoted fields, so its count is only an upper bound.
    """
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    newlines = np.flatnonzero(data == ord("\n"))
    nlines = len(newlines) + 1
    per_line = np.bincount(np.searchsorted(newlines, np.flatnonzero(data == ord(delim))),
                           minlength=nlines)
    quoted = np.bincount(np.searchsorted(newlines, np.flatnonzero(data == ord('"'))),
                         minlength=nlines) > 0
    upper = int(per_line.max()) + 1
    exact = int(per_line[~quoted].max()) + 1 if (~quoted).any() else 1
    return upper, exact


def _physical_rows(text: str, delim: str, quoting: int, n_records: int) -> np.ndarray:
    """Line number where each record starts (slow path for quoted multi-line fields)."""
    starts = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quoting=quoting)
    line = 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    rows = np.asarray(starts, dtype=np.int64)
    if len(rows) != n_records:  # parsers disagree; fall back to record order
        return np.arange(1, n_records + 1, dtype=np.int64)
    return rows


#: UTF-8 files at least this large are read without decoding them to one Python str
_LAZY_MIN_BYTES = 1 << 20


def _read_text(p: Path, file: str, *, encoding: str | None, delimiter: str | None) -> Grid:
    data = p.read_bytes()
    bad_delimiter = delimiter is not None and delimiter not in _DELIMITERS and len(delimiter) != 1
    if encoding is None and not bad_delimiter and len(data) >= _LAZY_MIN_BYTES:
        grid = _read_utf8_lazily(data, file, delimiter)
        if grid is not None:
            return grid
    text, enc = _decode(data, file, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    crlf = "\r" in text
    if crlf:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text or text.isspace():
        raise InputError("the file has no content (only blank lines)", file=file,
                         hint="Export the report again; it may have been empty.")
    if bad_delimiter:
        raise InputError(f"delimiter must be one character, not {delimiter!r}", file=file)
    delim = delimiter or _sniff_delimiter(text)
    quoting = csv.QUOTE_NONE if delim == "|" else csv.QUOTE_MINIMAL
    if "\x00" not in text:
        if enc == "utf-8" and not crlf:
            raw = data
        elif enc == "utf-8-sig" and not crlf:
            raw = data[len(codecs.BOM_UTF8):]
        else:
            raw = text.encode("utf-8", "surrogatepass")
        if delim == "|":
            pipes = _read_pipes_arrow(raw)
            if pipes is not None:
                return _pipe_grid(pipes, file, enc)
        else:
            fast = _read_text_arrow(raw, delim)
            if fast is not None:
                return _arrow_grid(fast, file, enc, delim, lambda: text)
        del raw
    upper, exact = _max_fields_upper_bound(text, delim)
    body = text

    def parse(width: int) -> tuple[pd.DataFrame, bool]:
        # (cells, whether a record had more fields than ``width``: pandas then drops the rest
        # of it, with a ParserWarning)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            got = pd.read_csv(
                # the C parser reads a file path much faster than a Python text buffer
                p if enc in ("utf-8", "utf-8-sig", "cp1252") else io.StringIO(body),
                encoding=enc if enc in ("utf-8", "utf-8-sig", "cp1252") else None, sep=delim, header=None,
                names=range(width), dtype=object, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                quoting=quoting, engine="c", index_col=False,
            )
        return got, any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)

    try:
        try:
            cells, cut = parse(upper)
        except pd.errors.ParserError:
            cells, cut = None, True
        if cut:
            # a quoted field running over several lines made a record wider than any one line
            # (the bound counts per line): count the fields of every record, and read again
            wide = csv.reader(io.StringIO(body, newline=""), delimiter=delim, quoting=quoting)
            cells, cut = parse(max((len(r) for r in wide), default=1))
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise InputError(f"cannot be split into columns with delimiter {delim!r} ({exc})",
                         file=file, hint="Check the file opens correctly in a text editor; "
                                         "unbalanced quotes are a common cause.") from None
    assert not cut, "a record has more fields than counted"  # (a bug: the count above is exact)
    nlines = body.count("\n") + (0 if body.endswith("\n") else 1)
    if len(cells) == nlines:
        rows = np.arange(1, nlines + 1, dtype=np.int64)
    else:
        rows = _physical_rows(body, delim, quoting, len(cells))
    if delim == "|":
        cells = _strip_pipes(cells, body)
        exact = 1
    cells = _trim_right(cells, keep=exact)
    cells.columns = range(cells.shape[1])
    return Grid(file=file, cells=cells.reset_index(drop=True), rows=rows, encoding=enc,
                delimiter=delim, sheet=None, typed=None)


def _read_utf8_lazily(data: bytes, file: str, delimiter: str | None) -> Grid | None:
    """The Arrow lane for a plain UTF-8 file (no byte order mark, ``\\n`` line ends, no NUL
    byte), without decoding the whole file to a Python str: only its first lines are decoded
    (to choose the delimiter), and Arrow checks the UTF-8 of every cell itself. None when the
    file is not such a file or not regular (the caller then takes the general path, which
    decides everything exactly as before)."""
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            or b"\r" in data or b"\x00" in data:
        return None
    lines = None
    size = 1 << 16
    while lines is None:
        whole = size >= len(data)
        cut = len(data) if whole else data.rfind(b"\n", 0, size) + 1
        try:
            head = data[:cut].decode("utf-8")
        except UnicodeDecodeError:
            return None  # Windows-1252 (or broken): the general path decides
        found = _head_lines(head)
        if whole or len(found) >= _SNIFF_LINES:
            lines = found
        size *= 4
    if not lines:
        return None  # no content: the general path says so
    delim = delimiter or _sniff_delimiter("", lines)
    if delim == "|":
        pipes = _read_pipes_arrow(data)
        return None if pipes is None else _pipe_grid(pipes, file, "utf-8")
    fast = _read_text_arrow(data, delim)
    if fast is None:
        return None
    return _arrow_grid(fast, file, "utf-8", delim, lambda: data.decode("utf-8"))


def _arrow_grid(fast: tuple[list[pa.Array], np.ndarray], file: str, enc: str, delim: str, text) -> Grid:
    """The Grid of the Arrow lane; ``text()`` gives the decoded file (asked for only in the
    rare case of an all-empty last column)."""
    columns, rows = fast
    if _all_empty(columns[-1]):  # rare: an all-empty last column
        keep = max(_max_fields_upper_bound(text(), delim)[1], 1)
        while len(columns) > keep and _all_empty(columns[-1]):
            columns = columns[:-1]
    return Grid(file=file, cells=None, rows=rows, encoding=enc, delimiter=delim,
                sheet=None, typed=None, arrow=columns)


def _read_text_arrow(raw: bytes, delim: str) -> tuple[list[pa.Array], np.ndarray] | None:
    """Fast path for regular files: ``pyarrow.csv`` reads every column as strings.

    ``raw`` is the file as UTF-8 bytes with ``\\n`` line ends, no byte order mark and no NUL.
    Returns ``(columns, rows)``: one Arrow string array per column holding exactly the cells
    the C-parser path would give, or None when the file is not regular -- ragged lines
    (title lines with fewer fields), a quoted field spanning lines, an unterminated quote,
    bytes that are not UTF-8 -- so the caller falls back to the general path. Blank lines
    are skipped by Arrow and put back as all-empty rows at their physical line numbers.
    """
    size = len(raw)
    # Arrow takes the number of columns from the first non-blank line; its delimiter
    # count (+1) bounds it (quoted delimiters only lower it)
    start = 0
    while start < size and raw[start] == 10:
        start += 1
    if start == size:
        return None
    stop = raw.find(b"\n", start)
    first = raw[start:stop if stop >= 0 else size]
    types = {f"f{i}": pa.string() for i in range(first.count(delim.encode()) + 1)}
    try:
        table = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=False,
                                             ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[]),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_columns == 0:
        return None
    # physical lines (a last line without a line end counts); Arrow skips blank lines, so
    # their positions are found in the same pass as the line count
    ended = raw.endswith(b"\n")
    nlines, blank_lines = _scan_lines(raw)
    if not len(blank_lines):
        if table.num_rows != nlines:
            return None  # a quoted field spans lines (or Arrow and the line count disagree)
        nonblank = None
        last_end = size - 1 if ended else size
        last_start = raw.rfind(b"\n", 0, last_end) + 1
    else:
        keep = np.ones(nlines, dtype=bool)
        keep[blank_lines] = False
        nonblank = np.flatnonzero(keep)
        if table.num_rows != len(nonblank):
            return None
        last_end = size
        while last_end and raw[last_end - 1] == 10:
            last_end -= 1
        last_start = raw.rfind(b"\n", 0, last_end) + 1
    if b'"' in raw:
        # an unterminated quote can only be on the last line here; the C parser decides
        last = raw[last_start:last_end].decode("utf-8", "surrogatepass")
        try:
            pd.read_csv(io.StringIO(last + "\n"), sep=delim, header=None, dtype=object,
                        keep_default_na=False, na_filter=False, engine="c", index_col=False)
        except (pd.errors.ParserError, ValueError):
            return None
    columns = list(table.columns)  # chunked as read: no copy
    if nonblank is not None and len(nonblank) != nlines:
        runs = _blank_runs(blank_lines)  # once for all columns
        columns = [_with_blank_lines(col, nonblank, nlines, runs) for col in columns]
    return columns, np.arange(1, nlines + 1, dtype=np.int64)


#: bytes per step of :func:`_scan_lines` (its temporary arrays stay small)
_SCAN_STEP = 1 << 23


def _scan_lines(raw: bytes) -> tuple[int, np.ndarray]:
    """``(number of physical lines, 0-based numbers of the blank lines)`` of ``raw``
    (``\\n`` line ends; a last line without a line end counts), in one numpy pass over the
    bytes in steps (no file-sized temporary). A line is blank when it is empty: its line end
    directly follows the previous one (or starts the file)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    blanks = []
    seen = 0        # line ends before the current step
    last = -1       # position of the last line end seen (-1: line 0 starts at 0)
    for lo in range(0, len(data), _SCAN_STEP):
        ends = np.flatnonzero(data[lo:lo + _SCAN_STEP] == 10)
        if not len(ends):
            continue
        ends += lo
        before = np.empty_like(ends)
        before[0] = last
        before[1:] = ends[:-1]
        blank = np.flatnonzero(ends == before + 1)
        if len(blank):
            blanks.append(blank + seen)
        seen += len(ends)
        last = int(ends[-1])
    nlines = seen + (0 if raw.endswith(b"\n") else 1)
    blank_lines = np.concatenate(blanks) if blanks else np.zeros(0, dtype=np.int64)
    return nlines, blank_lines.astype(np.int64, copy=False)


def _blank_runs(blank_lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs ``[start, stop)`` of consecutive line numbers in the sorted ``blank_lines``."""
    blank_lines = np.asarray(blank_lines, dtype=np.int64)
    if not len(blank_lines):
        return blank_lines, blank_lines
    breaks = np.flatnonzero(np.diff(blank_lines) != 1) + 1
    starts = blank_lines[np.concatenate(([0], breaks))]
    stops = blank_lines[np.concatenate((breaks - 1, [len(blank_lines) - 1]))] + 1
    return starts, stops


def _with_blank_lines(col: pa.ChunkedArray, nonblank: np.ndarray, nlines: int,
                      runs: tuple[np.ndarray, np.ndarray] | None = None) -> pa.ChunkedArray:
    """Put all-empty cells back at the blank lines: ``col`` holds the cells of the lines at
    positions ``nonblank``; the result has ``nlines`` cells. Zero-copy slices of ``col``
    around runs of blank lines when there are few runs, else one take. ``runs`` (the runs of
    blank lines, :func:`_blank_runs`) is computed from ``nonblank`` when not given."""
    if runs is None:
        is_blank = np.ones(nlines, dtype=bool)
        is_blank[nonblank] = False
        runs = _blank_runs(np.flatnonzero(is_blank))
    starts, stops = runs  # runs of blank lines [start, stop)
    if len(starts) > 1000:
        pick = np.full(nlines, -1, dtype=np.int64)
        pick[nonblank] = np.arange(len(nonblank), dtype=np.int64)
        return pc.fill_null(col.take(pa.array(pick, mask=pick < 0)), "")
    chunks, taken, line = [], 0, 0
    for start, stop in zip(starts, stops):
        k = int(start - line)  # data lines before this run
        if k:
            chunks.extend(col.slice(taken, k).chunks)
            taken += k
        chunks.append(pa.array([""] * int(stop - start), type=col.type))
        line = int(stop)
    if taken < len(col):
        chunks.extend(col.slice(taken).chunks)
    return pa.chunked_array(chunks, type=col.type)


def _all_empty(col: pa.Array | pa.ChunkedArray) -> bool:
    return len(col) == 0 or pc.max(pc.binary_length(col)).as_py() == 0


def _to_objects(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow string column as an object array of Python strings.

    Columns that repeat few values (types, dates, customers) are dictionary-encoded first,
    so each distinct string becomes one Python object shared by its rows: faster and much
    smaller than one object per cell. Mostly-distinct columns (document numbers) convert
    directly. Nulls become None.
    """
    n = len(col)
    head = col.slice(0, min(n, 20_000))
    if n > 1000 and pc.count_distinct(head).as_py() < 0.3 * len(head):
        enc = pc.dictionary_encode(col)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        uniques = enc.dictionary.to_numpy(zero_copy_only=False).astype(object, copy=False)
        indices = enc.indices
        if indices.null_count:  # missing cells become None
            uniques = np.append(uniques, None)
            indices = pc.fill_null(indices, len(uniques) - 1)
        return uniques[indices.to_numpy(zero_copy_only=False)]
    return col.to_numpy(zero_copy_only=False).astype(object, copy=False)


#: the characters Python's ``str.strip()`` removes (``str.isspace``; a test checks the list)
_PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                  "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _pipe_grid(columns: list[pa.Array], file: str, enc: str) -> Grid:
    return Grid(file=file, cells=None, rows=np.arange(1, len(columns[0]) + 1, dtype=np.int64), encoding=enc,
                delimiter="|", sheet=None, typed=None, arrow=columns)


def _read_pipes_arrow(raw: bytes) -> list[pa.Array] | None:
    """SAP list exports (``|``, no quoting) read by Arrow: one string array per column,
    without a Python string per cell.

    ``raw`` is the file as UTF-8 bytes with ``\\n`` line ends, no byte order mark and no
    NUL. Gives the same cells as the C parser followed by :func:`_strip_pipes` and
    :func:`_trim_right`: each physical line is a row; a line whose first non-blank
    character is a pipe loses the empty field before it; every cell is stripped as
    ``str.strip`` does; shorter lines are padded with ""; trailing columns empty in every
    row are dropped (but one is kept). None when Arrow cannot read the text (bytes that
    are not UTF-8): the caller then takes the general path.

    The lines with the most fields (the list's items, nearly all lines) are read by
    ``pyarrow.csv`` on all cores; the few others (titles, dashed rulers, blank lines) are
    split on their own (:func:`_split_pipe_lines`) and put back at their lines.
    """
    ends, width, full = _pipe_counts(raw)
    nlines = len(ends)
    try:
        regular = _regular_pipe_lines(raw, width, int(full.sum())) if width > 1 else None
        if regular is None:  # no pipe at all, or Arrow's rows are not the full lines
            full[:] = False
            regular = [pa.array([], pa.string())] * width
        regular = _without_lead(regular)
        ragged = np.flatnonzero(~full)
        if len(ragged):
            ragged_cols = _without_lead(_split_pipe_lines(_lines_at(raw, ends, ragged), width))
            regular = [_interleave(a, b, ragged, nlines) for a, b in zip(regular, ragged_cols)]
        columns = regular
        del regular

        def strip(positions: range) -> None:
            for i in positions:  # in place: each padded column is freed once stripped
                columns[i] = _py_strip(columns[i])

        half = (len(columns) + 1) // 2
        together(lambda: strip(range(half)), lambda: strip(range(half, len(columns))), rows=nlines)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    while len(columns) > 1 and _all_empty(columns[-1]):
        columns.pop()
    return columns


def _without_lead(columns: list) -> list:
    """The ``width`` columns of some lines, without the field before a leading pipe: a line
    whose first field is blank takes its next fields, and "" last."""
    n = len(columns[0])
    if len(columns) < 2 or not n:
        return columns
    empty = pa.repeat(pa.scalar("", pa.string()), n)
    lead = pc.equal(pc.binary_length(_py_strip(columns[0])), 0)
    if pc.all(lead).as_py():
        return columns[1:] + [empty]
    if not pc.any(lead).as_py():
        return columns
    return [pc.if_else(lead, after, col) for col, after in zip(columns, columns[1:] + [empty])]


def _py_strip(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``str.strip()`` of every cell (the same characters as Python's)."""
    return pc.utf8_trim(col, characters=_PY_WHITESPACE)


#: bytes per step of :func:`_pipe_counts`
_PIPE_STEP = 1 << 23


def _pipe_counts(raw: bytes) -> tuple[np.ndarray, int, np.ndarray]:
    """``(where each physical line ends, most fields on a line, whether each line has that
    many)``, counting the pipes of each line with numpy in steps (no file-sized temporary).
    A line ends at its ``\\n`` (the last line, without one, at the end of the file)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    pipes, ends = [], []
    seen = 0  # line ends before the current step
    for lo in range(0, len(data), _PIPE_STEP):
        step = data[lo:lo + _PIPE_STEP]
        at = np.flatnonzero(step == 10)
        line = seen + np.searchsorted(at, np.flatnonzero(step == 124))
        if len(line):
            pipes.append((int(line[0]), np.bincount(line - line[0])))  # counts from line line[0]
        ends.append(at + lo)
        seen += len(at)
    if not raw.endswith(b"\n"):
        ends.append(np.array([len(raw)], dtype=np.int64))
    ends = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    count = np.zeros(len(ends), dtype=np.int64)
    for first, c in pipes:
        count[first:first + len(c)] += c
    width = int(count.max()) + 1 if len(count) else 1
    return ends, width, count + 1 == width


def _regular_pipe_lines(raw: bytes, width: int, expected: int) -> list[pa.ChunkedArray] | None:
    """The cells (unstripped) of the lines with ``width`` fields, read by ``pyarrow.csv``;
    None unless it finds exactly ``expected`` such lines."""
    names = [f"f{i}" for i in range(width)]
    table = pacsv.read_csv(
        pa.BufferReader(raw),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="|", quote_char=False, escape_char=False,
                                         newlines_in_values=False, ignore_empty_lines=True,
                                         invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False,
                                             null_values=[]))
    if table.num_rows != expected:
        return None
    return list(table.columns)


def _lines_at(raw: bytes, ends: np.ndarray, at: np.ndarray) -> pa.Array:
    """The physical lines at 0-based positions ``at`` as an Arrow string array (``ends``:
    where each line ends, :func:`_pipe_counts`). The lines are views of ``raw`` (each with
    its line end, then trimmed): no Python object per line."""
    offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
    offsets[-1] = min(offsets[-1], len(raw))  # a last line without a line end
    lines = pa.Array.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(raw)])
    picked = lines.take(pa.array(at, type=pa.int64())).cast(pa.large_string())  # checks the UTF-8
    return pc.utf8_rtrim(picked, characters="\n").cast(pa.string())


def _split_pipe_lines(lines: pa.Array, width: int) -> list[pa.Array]:
    """The cells (unstripped) of ``lines`` split on the pipes, padded with "" to ``width``
    columns."""
    parts = pc.split_pattern(lines, "|")
    offsets = parts.offsets.to_numpy().astype(np.int64)
    pieces = parts.flatten()
    start = offsets[:-1] - offsets[0]
    count = np.diff(offsets)
    return [pc.fill_null(pieces.take(pa.array(start + j, mask=~(count > j))), "").cast(pa.string())
            for j in range(width)]


def _interleave(regular, ragged: pa.Array, at: np.ndarray, n: int) -> pa.ChunkedArray:
    """A column of ``n`` cells: ``ragged``'s at the positions ``at`` (sorted), ``regular``'s
    in order at the others. Slices around runs of ``at`` when there are few, else a take."""
    chunks = regular.chunks if isinstance(regular, pa.ChunkedArray) else [regular]
    regular = pa.chunked_array(chunks, type=pa.string())
    if len(at) > 1000:
        pick = np.empty(n, dtype=np.int64)
        keep = np.ones(n, dtype=bool)
        keep[at] = False
        pick[keep] = np.arange(n - len(at))
        pick[at] = n - len(at) + np.arange(len(at))
        both = pa.chunked_array(regular.chunks + [ragged], type=pa.string())
        return both.take(pa.array(pick))
    out, taken, line = [], 0, 0
    for i, pos in enumerate(at):
        k = int(pos - line)  # regular lines before this one
        if k:
            out.extend(regular.slice(taken, k).chunks)
            taken += k
        out.append(ragged.slice(i, 1))
        line = int(pos) + 1
    if taken < len(regular):
        out.extend(regular.slice(taken).chunks)
    return pa.chunked_array(out, type=pa.string())


def _strip_pipes(cells: pd.DataFrame, body: str) -> pd.DataFrame:
    """SAP list exports: drop the empty field before a leading pipe, strip padding."""
    lines = body.split("\n")
    if body.endswith("\n"):
        lines = lines[:-1]
    leading = pd.Series(lines, dtype=object).str.lstrip().str.startswith("|").to_numpy(dtype=bool)
    values = cells.to_numpy(dtype=object)
    shifted = np.empty_like(values)
    shifted[:, :-1] = values[:, 1:]
    shifted[:, -1] = ""
    values = np.where(leading[:, None], shifted, values)
    out = pd.DataFrame(values, index=cells.index)
    return out.apply(lambda col: col.str.strip())


def _trim_right(cells: pd.DataFrame, keep: int) -> pd.DataFrame:
    """Drop trailing columns that are empty in every row, but never below ``keep``."""
    ncols = cells.shape[1]
    while ncols > max(keep, 1) and (cells.iloc[:, ncols - 1] == "").all():
        ncols -= 1
    return cells.iloc[:, :ncols]


# --------------------------------------------------------------------------------------
# Excel and Parquet
# --------------------------------------------------------------------------------------

def _to_cells(typed: pd.DataFrame) -> pd.DataFrame:
    """``str(value)`` for every cell, ``""`` for missing, column by column."""
    out = {}
    for col in typed.columns:
        s = typed[col]
        missing = s.isna().to_numpy()
        if pd.api.types.is_datetime64_any_dtype(s.dtype) or (
                pd.api.types.is_numeric_dtype(s.dtype) and isinstance(s.dtype, np.dtype)):
            text = s.astype(str)  # vectorised; e.g. "2025-03-02", "45123.0"
        else:
            text = s.astype(object).map(str, na_action="ignore")
        out[col] = np.where(missing, "", text.to_numpy(dtype=object))
    return pd.DataFrame(out, index=typed.index, columns=typed.columns, dtype=object)


#: the engine pandas reads workbooks with: calamine (Rust) reads a 100k-row sheet in about
#: 3 s where openpyxl takes 26 s, and gives the same cells (tests compare the two)
_EXCEL_ENGINE = "calamine"


def _read_excel(p: Path, file: str, *, sheet: str | None) -> Grid:
    try:
        book = pd.ExcelFile(p, engine=_EXCEL_ENGINE)
    except Exception as exc:  # the engines raise several types for a damaged file
        raise InputError(f"cannot be opened as an Excel workbook ({exc})", file=file,
                         hint="Open it in Excel and save it again as .xlsx.") from None
    with book:
        names = book.sheet_names
        if sheet is not None:
            if sheet not in names:
                raise InputError(
                    f"has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}",
                    file=file, hint='Set sheet = "<name>" in the mapping file or pass --sheet.')
            chosen = sheet
            frame = _read_sheet(book, sheet, file)
        else:
            frames = {name: _read_sheet(book, name, file) for name in names}
            non_empty = [n for n, f in frames.items() if f.notna().any().any()]
            if not non_empty:
                raise InputError("every sheet of the workbook is empty", file=file)
            if len(non_empty) > 1:
                raise InputError(
                    f"has several sheets with data: {', '.join(map(repr, non_empty))}; "
                    f"arinsights does not guess which one is the ledger",
                    file=file,
                    hint=f'Choose one: set sheet = "{non_empty[0]}" in the mapping file, or '
                         f'pass --sheet "{non_empty[0]}" on the command line.')
            chosen = non_empty[0]
            frame = frames[chosen]
    frame.columns = range(frame.shape[1])
    frame = frame.reset_index(drop=True)
    cells = _to_cells(frame)
    # the engines read an error cell ("#N/A", "#REF!") as empty: put its text back, so that
    # the readers see the failed formula instead of a missing value
    for r, c, text in _xlsx_error_cells(p, chosen):
        if r < cells.shape[0] and c < cells.shape[1]:
            cells.iat[r, c] = text
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return Grid(file=file, cells=cells, rows=rows, encoding=None, delimiter=None, sheet=chosen,
                typed=frame)


#: a cell of a worksheet's XML whose type is "e" (an error value), its attributes and content
#: (not a self-closing one: it has no value)
_ERROR_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b(?=[^>]*\bt=[\"']e[\"'])([^>]*)(?<!/)>(.*?)"
                         rb"</(?:[A-Za-z_][\w.-]*:)?c>", re.DOTALL)
_CELL_REF = re.compile(rb"\br=[\"']([A-Z]{1,3})([0-9]+)[\"']")
_CELL_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v>([^<]*)</")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _xlsx_error_cells(p: Path, sheet: str) -> list[tuple[int, int, str]]:
    """The error cells of a sheet of an ``.xlsx`` workbook: ``(row, column, text)``, both
    from 0 (cell A1 is (0, 0)), e.g. ``(24, 5, "#N/A")``. Read from the sheet's XML, which
    is scanned only when it holds an error cell at all; nothing for other files (``.xls``:
    its error cells stay empty)."""
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(p) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            rid = next((el.get(_REL_NS) for el in book.iter() if el.tag.endswith("}sheet")
                        and el.get("name") == sheet), None)
            target = next((el.get("Target") for el in rels.iter() if el.get("Id") == rid), None)
            if rid is None or target is None:
                return []
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            data = z.read(part)
    except (zipfile.BadZipFile, KeyError, OSError, ElementTree.ParseError):
        return []
    if b't="e"' not in data and b"t='e'" not in data:
        return []
    found = []
    for m in _ERROR_CELL.finditer(data):
        ref, value = _CELL_REF.search(m.group(1)), _CELL_VALUE.search(m.group(2))
        if ref is None or value is None:
            continue  # a cell without its reference (optional in the format) cannot be placed
        col = 0
        for ch in ref.group(1):
            col = col * 26 + ch - 64
        found.append((int(ref.group(2)) - 1, col - 1, value.group(1).decode("utf-8", "replace").strip()))
    return found


def _read_xls(p: Path, file: str, *, sheet: str | None, encoding: str | None, delimiter: str | None) -> Grid:
    """An ``.xls`` file: an old binary workbook (or an ``.xlsx`` renamed) is read as a
    workbook; SAP's "Spreadsheet" download, which is tab-separated text named ``.xls``, as
    text; a web page saved as ``.xls`` is refused with what to do."""
    with open(p, "rb") as fh:
        head = fh.read(512)
    if head.startswith((b"\xd0\xcf\x11\xe0", b"PK\x03\x04")):  # BIFF (OLE2) or xlsx (zip)
        return _read_excel(p, file, sheet=sheet)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        probe = head[:len(head) // 2 * 2].decode("utf-16", "replace")
    else:
        probe = head.decode("latin-1")
    probe = probe.lstrip("\ufeff\xef\xbb\xbf \t\r\n").lower()
    if probe.startswith(("<", "mime-version")):
        raise InputError("this .xls file is a web page (HTML or XML), not a workbook", file=file,
                         hint="Open it in Excel and save it as .xlsx, or export the ledger as CSV.")
    return _read_text(p, file, encoding=encoding, delimiter=delimiter)


def _read_sheet(book: pd.ExcelFile, name: str, file: str) -> pd.DataFrame:
    """One sheet's cells with their Excel types; a damaged sheet is the user's error."""
    try:
        # keep_default_na=False: text such as "NA" (a customer code), "NULL" or "n/a" stays
        # text, as in a CSV file; the parsers decide what means "no value" in each column
        return pd.read_excel(book, sheet_name=name, header=None, keep_default_na=False, na_values=[""])
    except Exception as exc:  # the engines raise XML, zip and value errors for a damaged sheet
        raise InputError(f"sheet {name!r} cannot be read ({type(exc).__name__}: {exc})", file=file,
                         hint="The workbook is damaged: open it in Excel and save it again as .xlsx, "
                              "or export the sheet as CSV.") from None


def _read_parquet(p: Path, file: str) -> Grid:
    try:
        data = pd.read_parquet(p, engine="pyarrow")
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a damaged file
        raise InputError(f"cannot be read as Parquet ({exc})", file=file,
                         hint="Check the file was written completely.") from None
    names = [str(c) for c in data.columns]
    data = data.reset_index(drop=True)
    data.columns = range(data.shape[1])
    body = _to_cells(data)
    header = pd.DataFrame([names], columns=body.columns, dtype=object)
    cells = pd.concat([header, body], ignore_index=True)
    typed_cols = {}
    for col in data.columns:
        s = data[col]
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu":
            s = s.astype("Int64")  # so the missing header cell does not turn ids into floats
        elif isinstance(s.dtype, np.dtype) and s.dtype.kind == "b":
            s = s.astype("boolean")
        head = pd.Series([None], dtype=s.dtype)
        typed_cols[col] = pd.concat([head, s], ignore_index=True)
    typed = pd.DataFrame(typed_cols)
    rows = np.arange(1, len(cells) + 1, dtype=np.int64)
    return Grid(file=file, cells=cells, rows=rows, encoding=None, delimiter=None, sheet=None,
                typed=typed)
