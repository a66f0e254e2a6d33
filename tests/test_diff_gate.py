"""Gate rules: parsing human sizes and ratios, evaluation, rules files."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.diff.gate import RuleError, load_rules_file, parse_rule, parse_size


@pytest.mark.parametrize(("text", "n"), [("512", 512), ("10KB", 10_000), ("10KiB", 10_240), ("50MB", 50_000_000),
                                         ("1.5MiB", 1_572_864), ("2g", 2_000_000_000), ("3 GiB", 3 * 1024**3)])
def test_parse_size_understands_si_and_iec_units(text: str, n: int) -> None:
    assert parse_size(text) == n


def test_percent_rule_is_a_fraction() -> None:
    r = parse_rule("churn>5%")
    assert (r.metric, r.op, r.threshold) == ("churn", ">", 0.05)


def test_negative_size_threshold() -> None:
    assert parse_rule("growth<-1MB").threshold == -1_000_000


@pytest.mark.parametrize("bad", ["replaced", "replaced>>5MB", "nosuch>5", "replaced>5XB", "churn>five%"])
def test_bad_rules_are_one_line_errors(bad: str) -> None:
    with pytest.raises(RuleError) as exc:
        parse_rule(bad)
    assert "\n" not in str(exc.value)


def test_rules_file_is_a_toml_list(tmp_path: Path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text('fail-on = ["replaced>50MB", "churn > 5%"]\n')
    assert [r.metric for r in load_rules_file(f)] == ["replaced", "churn"]


def test_rules_file_that_is_not_toml_is_a_rule_error(tmp_path: Path) -> None:
    f = tmp_path / "rules.toml"
    f.write_text("fail-on = [\n")
    with pytest.raises(RuleError):
        load_rules_file(f)
