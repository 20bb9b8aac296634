"""Settings: every value given to ``replace`` / ``from_toml`` is checked against its field.

Users write settings TOML files by hand; a wrong type or an out-of-range value must end in
one :class:`InputError` that names the file, the section and key, the value, what is
expected and an example line -- all problems of a file at once -- never in a traceback
deep in the pipeline.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest

from arinsights.errors import InputError
from arinsights.settings import RULES, Settings, _convert, _toml, _WrongType


def _toml_file(tmp_path, text: str):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults and rules
def test_every_default_passes_its_own_checks_in_code_and_from_toml(tmp_path):
    defaults = Settings()
    assert defaults.replace(**defaults.to_dict()) == defaults
    # the same through a TOML file holding every default (None cannot be written in TOML)
    lines = []
    for section, values in defaults.to_dict().items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items() if value is not None]
    read = Settings.from_toml(_toml_file(tmp_path, "\n".join(lines) + "\n"))
    assert read == defaults
    for section in defaults.to_dict():  # same values and same types (5.0 stays a float)
        for f in dataclasses.fields(getattr(defaults, section)):
            assert type(getattr(getattr(read, section), f.name)) is type(getattr(getattr(defaults, section), f.name))


def test_rules_name_real_settings():
    fields = {name: {f.name for f in dataclasses.fields(section)}
              for name, section in vars(Settings()).items()}
    for section, rules in RULES.items():
        assert section in fields
        assert set(rules) <= fields[section], set(rules) - fields[section]


def test_risk_horizon_choices_are_the_outlook_horizons():
    # the worklist's value at risk needs a p_pay_<h> column of the calibrated outlook
    from arinsights.behaviour.outlook import calibrated_outlook

    horizons = inspect.signature(calibrated_outlook).parameters["horizons"].default
    assert RULES["playbook"]["risk_horizon_days"].choices == tuple(horizons)


# --------------------------------------------------------------------------- accepted values
def test_whole_number_for_a_decimal_setting_becomes_a_float():
    s = Settings().replace(behaviour={"features_shrink_k": 3}, playbook={"payment_plan_months": 2})
    assert s.behaviour.features_shrink_k == 3.0 and type(s.behaviour.features_shrink_k) is float
    assert s.playbook.payment_plan_months == 2.0 and type(s.playbook.payment_plan_months) is float


def test_decimal_without_a_fraction_for_a_whole_number_setting_becomes_an_int():
    s = Settings().replace(playbook={"grace_days": 3.0})
    assert s.playbook.grace_days == 3 and type(s.playbook.grace_days) is int


@pytest.mark.parametrize("order", [None, "dayfirst", "monthfirst", "yearfirst"])
def test_date_order_accepts_its_choices(order):
    assert Settings().replace(ingest={"date_order": order}).ingest.date_order == order


def test_boundaries_are_allowed():
    s = Settings().replace(playbook={"grace_days": 0, "call_at_window_fraction": 1, "agency_max_p_pay_30": 0.0,
                                     "risk_horizon_days": 60},
                           behaviour={"random_state": 2**32 - 1, "features_shrink_k": 0})
    assert s.playbook.call_at_window_fraction == 1.0 and s.playbook.grace_days == 0
    assert s.playbook.risk_horizon_days == 60 and s.behaviour.random_state == 2**32 - 1


def test_valid_toml_file_is_read_with_converted_types(tmp_path):
    path = _toml_file(tmp_path, '[ingest]\ndefault_currency = "EUR"\ndate_order = "dayfirst"\n'
                                "[behaviour]\nfeatures_shrink_k = 2\n[playbook]\ngrace_days = 3\n"
                                "disputes_count_as_late = true\n")
    s = Settings.from_toml(path)
    assert (s.ingest.default_currency, s.ingest.date_order) == ("EUR", "dayfirst")
    assert type(s.behaviour.features_shrink_k) is float and s.behaviour.features_shrink_k == 2.0
    assert s.playbook.grace_days == 3 and s.playbook.disputes_count_as_late is True
    assert s.behaviour.grace_days == 5  # untouched section keeps its defaults


# No Settings field holds a container today; the conversion a future one would get
# (TOML gives lists, the frozen dataclass holds tuples) is checked on the converter itself.
@pytest.mark.parametrize("value, tp, expected", [
    ([7, 30.0, 60], tuple[int, ...], (7, 30, 60)),
    ((1, 2), list[float], [1.0, 2.0]),
    (["a", 2], tuple[str, int], ("a", 2)),
    ({"EUR": 1}, dict[str, float], {"EUR": 1.0}),
    (None, int | None, None),
    (4, int | None, 4),
])
def test_container_and_optional_conversion(value, tp, expected):
    got = _convert(value, tp)
    assert got == expected and type(got) is type(expected)
    if isinstance(got, (tuple, list)):
        assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize("value, tp", [
    ([1, 2.5], tuple[int, ...]),  # an item with a fraction
    ([1, True], tuple[int, ...]),  # true is not a number
    ("7,30", tuple[int, ...]),  # text, not a list
    (["a"], tuple[str, int]),  # wrong length
    ({"EUR": "x"}, dict[str, float]),
    (None, int),
    (math.inf, float),
])
def test_container_and_optional_conversion_rejects(value, tp):
    with pytest.raises(_WrongType):
        _convert(value, tp)


# --------------------------------------------------------------------------- rejected values
BAD = [
    # section, key, value, what the message must say is expected, example line
    ("ingest", "amount_tolerance", "abc", "a number, 0 or more", "amount_tolerance = 0.01"),
    ("ingest", "amount_tolerance", -0.5, "a number, 0 or more", "amount_tolerance = 0.01"),
    ("ingest", "default_currency", 5, "three-letter currency code", 'default_currency = "USD"'),
    ("ingest", "default_currency", "usd", "three-letter currency code", 'default_currency = "USD"'),
    ("ingest", "date_order", "daymonth", 'one of "dayfirst", "monthfirst", "yearfirst"', 'date_order = "dayfirst"'),
    ("ingest", "default_terms_days", "30 days", "a whole number, 0 or more", "default_terms_days = 30"),
    ("behaviour", "grace_days", -3, "a whole number, 0 or more", "grace_days = 5"),
    ("behaviour", "outlook_max_customers", "200k", "a whole number, 1 or more", "outlook_max_customers = 2500"),
    ("behaviour", "window_quantile", 1.0, "greater than 0 and less than 1", "window_quantile = 0.8"),
    ("behaviour", "window_quantile", math.nan, "a number, greater than 0", "window_quantile = 0.8"),
    ("behaviour", "paycycle_fdr", 0, "greater than 0 and less than 1", "paycycle_fdr = 0.05"),
    ("behaviour", "features_shrink_k", True, "a number, 0 or more", "features_shrink_k = 5.0"),
    ("behaviour", "outlook_regularisation", 0, "a number, greater than 0", "outlook_regularisation = 1.0"),
    ("behaviour", "random_state", -1, "from 0 to 4294967295", "random_state = 0"),
    ("playbook", "grace_days", 2.5, "a whole number, 0 or more", "grace_days = 5"),
    ("playbook", "grace_days", True, "a whole number, 0 or more", "grace_days = 5"),
    ("playbook", "agency_max_p_pay_30", 1.5, "a number, from 0 to 1", "agency_max_p_pay_30 = 0.2"),
    ("playbook", "risk_horizon_days", 45, "one of 7, 30, 60", "risk_horizon_days = 30"),
    ("playbook", "disputes_count_as_late", "yes", "true or false", "disputes_count_as_late = false"),
    ("playbook", "lookback_days", [730], "a whole number, 1 or more", "lookback_days = 730"),
    ("report", "max_table_rows", 0, "a whole number, 1 or more", "max_table_rows = 25"),
]


@pytest.mark.parametrize("section, key, value, expected, example", BAD, ids=lambda v: str(v)[:20])
def test_wrong_value_names_section_key_value_expectation_and_example(section, key, value, expected, example):
    with pytest.raises(InputError) as err:
        Settings().replace(**{section: {key: value}})
    message = str(err.value)
    assert f"[{section}] {key} = {_toml(value)}: expected " in message
    assert expected in message and f"(for example: {example})" in message


def test_a_file_reports_every_problem_at_once_and_names_the_file(tmp_path):
    path = _toml_file(tmp_path, 'grace_days = 4\n'
                                '[ingest]\namount_tolerance = "abc"\ndefault_currency = 5\n'
                                "[playbook]\ngrace_days = -3\ngrace_dayz = 2\n"
                                "[reporting]\ntrend_months = 6\n")
    with pytest.raises(InputError) as err:
        Settings.from_toml(path)
    message = str(err.value)
    assert err.value.file == str(path) and message.startswith(f"file {path}: 6 problems in the settings:\n  - ")
    for words in ("grace_days = 4 is outside any section: put it under [behaviour] or [playbook]",
                  '[ingest] amount_tolerance = "abc": expected a number, 0 or more '
                  "(for example: amount_tolerance = 0.01)",
                  "[ingest] default_currency = 5: expected a three-letter currency code",
                  "[playbook] grace_days = -3: expected a whole number, 0 or more (for example: grace_days = 5)",
                  "[playbook] grace_dayz: unknown setting; did you mean grace_days?",
                  "[reporting]: unknown settings section; did you mean [report]?"):
        assert words in message
    assert "Traceback" not in message


def test_a_section_that_is_not_a_table_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"\[playbook\] must be a section of settings"):
        Settings.from_toml(_toml_file(tmp_path, "playbook = 3\n"))


# --------------------------------------------------------------------------- built in code
@pytest.mark.parametrize("section, key, value, expected, example", BAD, ids=lambda v: str(v)[:20])
def test_a_section_built_in_code_is_checked_like_replace(section, key, value, expected, example):
    cls = type(getattr(Settings(), section))
    with pytest.raises(InputError) as err:
        cls(**{key: value})
    message = str(err.value)
    assert message.startswith(f"settings ({cls.__name__}): [{section}] {key} = {_toml(value)}: expected ")
    assert expected in message and f"(for example: {example})" in message


def test_a_section_built_in_code_lists_every_problem_and_converts_the_good_values():
    from arinsights.settings import IngestSettings, PlaybookSettings

    with pytest.raises(InputError) as err:
        IngestSettings(date_order="ymd", default_currency="eur", default_terms_days=30)
    message = str(err.value)
    assert message.startswith("settings (IngestSettings): 2 problems:\n  - [ingest] date_order")
    assert "[ingest] default_currency" in message
    good = IngestSettings(default_terms_days=45.0, amount_tolerance=1)
    assert good.default_terms_days == 45 and type(good.default_terms_days) is int
    assert good.amount_tolerance == 1.0 and type(good.amount_tolerance) is float
    assert PlaybookSettings(grace_days=3).grace_days == 3


def test_settings_given_a_dict_for_a_section_says_how_to_change_values():
    with pytest.raises(InputError, match=r"ingest must be IngestSettings\(\.\.\.\), not \{date_order = \"dayfirst\"\}; "
                                         r"to change some values, write Settings\(\)\.replace\(ingest=\{\.\.\.\}\)"):
        Settings(ingest={"date_order": "dayfirst"})
