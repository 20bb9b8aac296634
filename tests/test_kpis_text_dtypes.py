"""KPIs do not depend on how the invoice ids are stored (text dtype vs Python objects)."""

from __future__ import annotations

import pandas as pd

from arinsights.playbook.kpis import aging, monthly_kpis
from arinsights.schema import Invoices, Payments

from test_kpis import random_ledger


def test_kpis_same_for_string_and_object_invoice_ids():
    inv, pay = random_ledger(11, n=80)
    as_of = "2025-12-31"
    text_pay = pay.assign(**{Payments.invoice_id: pay[Payments.invoice_id].astype("string")})
    obj_pay = pay.assign(**{Payments.invoice_id: pay[Payments.invoice_id].astype(object)})
    text_inv = inv.assign(**{Invoices.invoice_id: inv[Invoices.invoice_id].astype("string")})
    ref = monthly_kpis(inv.assign(**{Invoices.invoice_id: inv[Invoices.invoice_id].astype(object)}), obj_pay, as_of)
    pd.testing.assert_frame_equal(monthly_kpis(text_inv, text_pay, as_of), ref)
    pd.testing.assert_frame_equal(aging(text_inv, text_pay, as_of), aging(inv, obj_pay, as_of))
    assert text_pay[Payments.invoice_id].isna().any()  # unapplied cash stays unapplied
