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
