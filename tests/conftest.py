"""Shared pytest setup: a non-interactive plotting backend and paths to test data."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest

TESTS = Path(__file__).parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
SAMPLE = REPO / "data" / "sample"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def two_sheet_workbook(tmp_path) -> Path:
    """An Excel workbook with two data sheets: "Ledger" (I-1 Acme 100, I-2 Beta 250) and an
    older copy, "Archive" (A-9 Gamma 75)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Ledger"
    ws.append(["Invoice Number", "Customer", "Invoice Date", "Due Date", "Amount"])
    ws.append(["I-1", "Acme", "2025-03-20", "2025-04-19", 100.0])
    ws.append(["I-2", "Beta", "2025-04-02", "2025-05-02", 250.0])
    old = wb.create_sheet("Archive")
    old.append(["Invoice Number", "Customer", "Invoice Date", "Due Date", "Amount"])
    old.append(["A-9", "Gamma", "2024-01-05", "2024-02-04", 75.0])
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    return path
