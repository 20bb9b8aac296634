"""Report sections on a tiny hand-made analysis: the sentences' numbers equal the table sums
(worked out by hand below), every customer-typed text is escaped, and the helpers behave."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from IPython.display import HTML, Image, Markdown

from arinsights.errors import InputError
from arinsights.reporting import sections as S
from arinsights.schema import Segments, Worklist
from arinsights.settings import Settings

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
AS_OF = pd.Timestamp("2026-06-30")


def _segments():
    # four customers; amounts chosen so every sum is easy to check by hand
    return pd.DataFrame({
        Segments.customer_id: ["A", "B", "C", "D"],
        Segments.customer_name: ["Alpha Ltd", HOSTILE, "Gamma_Co", "Delta"],
        Segments.segment: ["reliable", "slipped", "slipped", "habitual"],
        Segments.action: ["none", "phone call", "reminder", "firm dunning"],
        Segments.next_action_date: [pd.NaT, AS_OF, AS_OF + pd.Timedelta(days=3), AS_OF],
        Segments.open_amount: [100.0, 300_000.0, 200_000.0, 50_000.0],
        Segments.reasons: [
            "reliable: fine | nothing to do | 10 of 10 on time",
            "slipped: good history | call now and ask why | 9 of 10 on time; usually pays in 30 days",
            "slipped: good history | send a reminder | 8 of 8 on time",
            "habitual: late | firm dunning letter | 2 of 10 on time",
        ],
        "currency": ["USD", "USD", "USD", "USD"],
        "n_open": [1, 3, 2, 4], "n_paid": [10, 10, 8, 10], "n_on_time": [10, 9, 8, 2],
        "on_time_share": [1.0, 0.9, 1.0, 0.2], "median_days_late": [0.0, 1.0, 0.0, 25.0],
        "max_days_past_due": [0.0, 40.0, 20.0, 90.0], "oldest_open_age": [10.0, 70.0, 50.0, 120.0],
        "median_days": [25.0, 30.0, 28.0, 60.0], "p80_days": [30.0, 41.0, 35.0, 80.0],
        "p90_days": [35.0, 48.0, 40.0, 95.0],
        "recent_mean_days_to_pay": [25.0, 31.0, 29.0, 70.0], "long_run_p80_days": [30.0, 40.0, 35.0, 80.0],
        "pay_run_pattern": ["none", "day_of_month", "weekday", "none"], "pay_run_day": [np.nan, 15.0, 1.0, np.nan],
        "next_run": [pd.NaT, pd.Timestamp("2026-07-15"), pd.Timestamp("2026-07-07"), pd.NaT],
        "last_payment_date": [AS_OF] * 4,
    })


def _analysis():
    seg = _segments()
    actions = pd.DataFrame({
        Segments.customer_id: ["B", "C", "C", "D"],
        Segments.customer_name: [HOSTILE, "Gamma_Co", "Gamma_Co", "Delta"],
        Segments.segment: ["slipped", "slipped", "slipped", "habitual"],
        Segments.action: ["phone call", "reminder", "move billing date", "firm dunning"],
        Segments.next_action_date: [AS_OF, AS_OF + pd.Timedelta(days=3), AS_OF, AS_OF + pd.Timedelta(days=20)],
        Segments.open_amount: [300_000.0, 200_000.0, 200_000.0, 50_000.0],
        Segments.reasons: ["call now and ask why | numbers B", "send a reminder | numbers C",
                           "move the billing date to the 10th | numbers C", "firm dunning letter | numbers D"],
    })
    worklist = actions.assign(**{Worklist.p_not_paid_30: [0.5, 0.5, 0.5, 0.9]})
    worklist[Worklist.value_at_risk] = worklist[Worklist.open_amount] * worklist[Worklist.p_not_paid_30]
    worklist = worklist.sort_values(Worklist.value_at_risk, ascending=False, kind="mergesort").reset_index(drop=True)
    kpi = pd.DataFrame({
        "currency": "USD",
        "kpi": ["closing_ar", "pct_current", "dso_countback", "best_possible_dso", "add", "cei",
                "weighted_days_to_pay"],
        "label": ["Total AR", "Percent current", "DSO (countback)", "Best possible DSO", "Average days delinquent",
                  "Collection effectiveness (CEI)", "Average days to pay"],
        "unit": ["amount", "percent", "days", "days", "days", "percent", "days"],
        "value": [550_100.0, 60.0, 45.0, 30.0, 15.0, 80.0, 40.0],
        "previous": [600_100.0, 70.0, 40.0, 30.0, 10.0, 85.0, 38.0],
        "better": ["lower", "higher", "lower", "lower", "lower", "higher", "lower"],
        "month": "2026-06", "previous_month": "2026-05",
    })
    kpi["change"] = kpi["value"] - kpi["previous"]
    kpi["improved"] = np.where(kpi["better"] == "lower", kpi["change"] < 0, kpi["change"] > 0)
    invoices = pd.DataFrame({"currency": ["USD"], "amount": [1.0]})
    return SimpleNamespace(as_of=AS_OF, settings=Settings(), segments=seg, actions=actions, worklist=worklist,
                           kpi_summary=kpi, invoices=invoices, currency="USD", notes=[], backtest=None,
                           previous=None)


def test_summary_facts_equal_table_sums():
    a = _analysis()
    f = S.summary_facts(a)
    seg = a.segments
    # by hand: slipped B (300k) + C (200k) = 500k; habitual D = 50k
    assert f["slipped_n"] == 2
    assert f["slipped_amount"].to_dict() == {"USD": 500_000.0}
    assert f["slipped_amount"].sum() == seg.loc[seg[Segments.segment] == "slipped", Segments.open_amount].sum()
    assert f["habitual_n"] == 1 and f["habitual_amount"].to_dict() == {"USD": 50_000.0}
    # C has a billing-date recommendation, B has not
    assert f["slipped_billing_n"] == 1
    assert f["biggest"]["customer_id"] == "B" and f["biggest"]["amount"] == 300_000.0
    assert f["total_ar"] == 550_100.0 and f["total_ar_change"] == -50_000.0
    # this week: actions due by 7 Jul, not "wait"/"none"; D's dunning (20 Jul) is left out
    # one line per customer: C's second action (billing date) is not repeated
    assert list(f["this_week"][Segments.customer_id]) == ["B", "C"]
    assert list(f["this_week"][Segments.action]) == ["phone call", "reminder"]
    assert f["action_counts"].to_dict() == {"none": 1, "phone call": 1, "reminder": 1, "firm dunning": 1}


def test_executive_summary_sentences_carry_the_numbers_and_escape_names():
    md = S.executive_summary(_analysis())
    assert isinstance(md, Markdown)
    # dollar signs are entities, so Jupyter's Markdown never reads "$...$" as maths
    assert "$" not in md.data
    text = md.data.replace("&#36;", "$")
    assert "**2 good customers slipped**, holding **$500k**" in text
    assert "1 of them pays on a fixed run day and its invoices tend to fall due just after it" in text
    assert "customers owe **$550k** (down $50k from the end of May 2026)" in text
    assert "**60%** of it is not yet due (70% at the end of May 2026)" in text
    assert "**45.0 days** (up 5.0 days)" in text
    assert "1 habitual late payer owe $50k" in text
    assert ("Of 4 customers, 1 is reliable, 2 are good customers who slipped and 1 is a habitual late payer."
            in text)
    assert "Recommended next step per customer: no action 1, phone call 1, reminder 1, firm dunning 1." in text
    assert HOSTILE not in text and ESCAPED in text
    assert "Gamma\\_Co" in text  # Markdown emphasis characters escaped too
    assert "**This week**" in text and "Call **" in text


def test_kpi_tiles_format_and_colour_changes():
    html = S.kpi_tiles(_analysis())
    assert isinstance(html, HTML)
    data = html.data
    assert data.count('border-radius:6px') == 7
    assert "$550k" in data and "▼ $50k vs May 2026" in data
    # total AR fell (better: green); DSO rose 5 days (worse: red)
    assert 'color:#2e7d32">▼ $50k' in data
    assert 'color:#c62828">▲ 5.0 days' in data
    assert 'color:#666">no change' in data  # best possible DSO unchanged


def test_slipped_table_sorted_escaped_and_formatted():
    html = S.slipped_table(_analysis()).to_html()
    assert HOSTILE not in html and ESCAPED in html
    assert html.index(ESCAPED) < html.index("Gamma_Co")  # 300k before 200k
    assert "$300,000.00" in html and "the 15th" in html and "Tuesdays" in html
    assert "Usually pays within (days, p80)" in html
    assert "Alpha Ltd" not in html  # reliable customers are not in the table


def test_pay_run_text_and_money_text():
    got = S.pay_run_text(pd.Series(["weekday", "day_of_month", "day_of_month", "month_end", "none"]),
                         pd.Series([1.0, 1.0, 22.0, np.nan, np.nan]))
    assert list(got) == ["Tuesdays", "the 1st", "the 22nd", "month end", "no fixed run"]
    assert S.money_text(pd.Series({"USD": 1_000.0, "EUR": 2_000.0})) == "€2k and $1k"
    assert S.money_text(pd.Series(dtype=float), "GBP") == "£0"


def test_pick_customer():
    a = _analysis()
    assert S.pick_customer(a, "") == a.worklist[Worklist.customer_id].iloc[0] == "B"
    assert S.pick_customer(a, "C") == "C"
    assert S.pick_customer(a, "Delta") == "D"  # a unique name is accepted
    with pytest.raises(InputError) as err:
        S.pick_customer(a, "ZZZ")
    msg = str(err.value)
    assert "'ZZZ' is not in the ledger" in msg and "'B'" in msg and "4 customers" in msg


def test_model_quality_note_in_plain_words():
    a = _analysis()
    a.backtest = SimpleNamespace(
        overall=pd.DataFrame({"model": ["model", "prior_late_share", "terms_only"], "roc_auc": [0.81, 0.70, 0.55],
                              "pr_auc": [0.6, 0.5, 0.3], "brier": [0.1, 0.12, 0.2], "n": [1000, 1000, 1000]}),
        cutoffs=pd.DataFrame({"cutoff": pd.to_datetime(["2026-01-31", "2026-02-28"])}))
    text = S.model_quality_note(a).data
    assert "**8 times in 10** (ROC-AUC 0.81" in text
    assert "better than judging each customer by their past lateness alone (0.70)" in text
    assert "1,000 invoices" in text and "last 2 month ends" in text
    a.backtest = None
    assert "not back-tested" in S.model_quality_note(a).data


def _ledger():
    rec = pd.DataFrame({"file": ["x.csv", "TOTAL"], "layout": ["generic", ""], "rows_read": [10, 10],
                        "kept": [6, 6], "merged": [1, 1], "skipped": [2, 2], "rejected": [1, 1],
                        "balanced": [True, True], "rows_amount_unknown": [0, 0], "amount_read": [100.0, 100.0],
                        "amount_kept": [90.0, 90.0], "amount_merged": [5.0, 5.0], "amount_skipped": [0.0, 0.0],
                        "amount_rejected": [5.0, 5.0], "amount_balanced": [True, True]})
    rejects = pd.DataFrame({"source": ["x.csv:4", "x.csv:9", "x.csv:12"], "file": "x.csv", "row": [4, 9, 12],
                            "reason": ["Date '02/30/2025' is not a date", "Date '13/13/2025' is not a date",
                                       f"Amount '{HOSTILE}' is not an amount"],
                            "raw": ["a", "b", f"Amount={HOSTILE}"], "amount": [3.0, 2.0, np.nan]})
    return SimpleNamespace(reconciliation=lambda: rec, rejects=rejects, notes=[f"customer {HOSTILE} renamed"])


def test_reconciliation_note_adds_up():
    text = S.reconciliation_note(_ledger()).data
    # by hand: 6 + 1 + 2 + 1 = 10 = rows read
    assert "10 rows: 6 kept + 1 merged" in text and "+ 2 skipped" in text and "+ 1 rejected = 10" in text
    assert "Every row is accounted for, and so is every amount." in text


def test_rejects_grouped_by_reason_and_escaped():
    html = S.rejects_by_reason(_ledger()).to_html()
    # the two bad dates share one reason once the quoted values are removed: 2 rows, amount 3 + 2
    assert "Date … is not a date" in html and ">2<" in html and "5.00" in html
    # the unreadable amount stays unknown ("-"), it is not shown as 0.00
    assert "0.00<" not in html and ">-<" in html
    assert HOSTILE not in html
    assert HOSTILE not in S.reject_examples(_ledger()).to_html()
    assert HOSTILE not in S.ledger_notes(_ledger()).data


def test_charts_are_png_images():
    a = _analysis()
    a.aging = pd.DataFrame({"currency": "USD", "bucket": ["current", "1-30", "31-60", "61-90", "90+"],
                            "open_amount": [100.0, 50.0, 0.0, 0.0, 25.0], "n_invoices": [2, 1, 0, 0, 1],
                            "share": [100 / 175, 50 / 175, 0, 0, 25 / 175]})
    img = S.aging_chart(a)
    assert isinstance(img, Image) and img.data[:8] == b"\x89PNG\r\n\x1a\n"
    table_html = S.aging_table(a).to_html()
    assert "not yet due" in table_html and "$175.00" in table_html  # total row = 100 + 50 + 25


def test_portfolio_fit_curve_is_the_invoice_weighted_mean_of_customer_curves():
    from arinsights.behaviour.distributions import DaysToPayModel

    rng = np.random.default_rng(3)
    n = np.array([30, 5, 12])
    cust = np.repeat(["a", "b", "c"], n)
    days = np.round(np.exp(rng.normal(np.repeat([3.0, 3.5, 2.8], n), 0.3)))
    paid = rng.random(len(days)) > 0.1
    durations = pd.DataFrame({"customer_id": cust, "days_to_pay": days, "paid": paid})
    model = DaysToPayModel().fit(durations)
    a = SimpleNamespace(durations=durations, days_to_pay=model)
    t = np.array([0.0, 10.0, 20.0, 40.0])
    got = S.portfolio_fit_curves(a, t)
    # reference: a plain loop over invoices, one survival call each
    ref = np.mean([[model.survival(c, x)[0] for x in t] for c in cust], axis=0)
    np.testing.assert_allclose(got["fitted"], ref, rtol=1e-12)
    # observed = Kaplan-Meier read off as a step function: 1 before the first event
    assert got["observed"].iloc[0] == 1.0
    assert np.all(np.diff(got["observed"]) <= 0)


def test_customer_header_facts_and_escaping():
    text = S.customer_header(_analysis(), "B").data.replace("&#36;", "$")
    assert HOSTILE not in text and f"## {ESCAPED}" in text
    # B's row above: 9 of 10 on time, p80 41 / p90 48, 3 open invoices, oldest 70 days, pays on the 15th
    assert "9 of 10 paid invoices on time (90%)" in text
    assert "8 in 10 invoices within 41 days, 9 in 10 within 48 days" in text
    assert "$300,000.00 in 3 invoices; the oldest is 70 days old" in text
    assert "**Pay run:** the 15th (next expected 15 Jul 2026)" in text
    assert "**In numbers:** 9 of 10 on time; usually pays in 30 days." in text
    assert "**Next step:** phone call on 30 Jun 2026." in text


def test_ledger_notes_drop_folders_and_escape():
    led = _ledger()
    led.files = pd.DataFrame({"file": ["/srv/finance/in/x.csv"]})
    led.notes = ["/srv/finance/in/x.csv: 2 dates unreadable", f"customer {HOSTILE} renamed"]
    text = S.ledger_notes(led).data
    assert text.splitlines() == ["- x.csv: 2 dates unreadable", f"- customer {ESCAPED} renamed"]


def test_this_week_bullets_do_not_repeat_the_action_or_the_amount():
    # the detail texts as the playbook writes them; the bullet already names the action
    # and the open amount, so both go from the detail (by hand)
    assert S._week_detail("firm dunning: $149,012.39 open, up to 64 days past due; they pay late as a habit",
                          "firm dunning", 149_012.39, "USD") == "up to 64 days past due; they pay late as a habit"
    assert S._week_detail("send a final notice today; hand to a collection agency on 7 Jul 2026 if still unpaid "
                          "(last resort): $381,954.94 open, no payment for 210 days",
                          "collection agency", 381_954.94, "USD") == (
        "send a final notice today; hand to a collection agency on 7 Jul 2026 if still unpaid (last resort): "
        "no payment for 210 days")
    assert S._week_detail("firm dunning: 1,250.00 CHF open; they pay late as a habit", "firm dunning",
                          1250.0, "CHF") == "they pay late as a habit"
    # another amount, or no amount, is left as it is
    assert S._week_detail("offer a payment plan on the call: open balance $9,000.00 is 3 months", "payment plan",
                          9000.0, "USD") == "offer a payment plan on the call: open balance $9,000.00 is 3 months"
    assert S._week_detail("call now and ask why", "phone call", 300_000.0, "USD") == "call now and ask why"
    a = _analysis()
    a.worklist.loc[a.worklist[Segments.customer_id] == "B", Segments.reasons] = (
        "phone call: $300,000.00 open, call now and ask why | numbers B")
    text = S.executive_summary(a).data.replace("&#36;", "$")
    assert "- Call **" in text and "($300k open): call now and ask why." in text
    assert "$300,000.00" not in text
