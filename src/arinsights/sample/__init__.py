"""Synthetic sample ledgers with ground truth, and writers for each export layout.

:func:`generate_ledger` simulates customers of known archetypes (reliable, slipped,
habitual, drifting, monthly / weekly pay run, ghost, new) and returns the truth tables;
:func:`write_export` writes them as the messy files a finance team hands over (generic,
transactions, two files, QuickBooks aging, Xero, SAP FBL5N) with a ``manifest.json`` of
what was injected; :func:`write_sample` does both (the committed ``data/sample``).

>>> from arinsights.sample import generate_ledger
>>> ledger = generate_ledger(n_customers=40, years=1, seed=1)
>>> sorted(ledger.customers["archetype"].unique())[:3]
['drifting', 'ghost', 'habitual']
"""

from ._generate import ARCHETYPES, DEFAULT_MIX, SampleLedger, generate_ledger
from ._writers import LAYOUTS, fmt_amount, fmt_date, write_export, write_sample

__all__ = ["ARCHETYPES", "DEFAULT_MIX", "LAYOUTS", "SampleLedger", "fmt_amount", "fmt_date",
           "generate_ledger", "write_export", "write_sample"]
