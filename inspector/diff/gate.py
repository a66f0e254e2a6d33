"""CI gate rules over a diff: ``replaced>50MB``, ``churn>5%``, ``files_added>=10`` ...

A rule is ``METRIC OP VALUE``. It *trips* (the check FAILs) when the comparison is true, like dive's CI
mode ("fail if ..."). Sizes take SI or IEC units (``10KB`` = 10,000 bytes, ``10KiB`` = 10,240 bytes,
``B`` optional, case-insensitive); ratios take ``%`` or a plain fraction. Rules come from repeated
``--fail-on`` options or a TOML file with a top-level list ``fail-on = ["replaced>50MB", ...]``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from inspector.diff.model import ChurnTotals, DiffResult

_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?)?b?(?:ytes?)?\s*$", re.IGNORECASE)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}
_RULE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(.+?)\s*$", re.IGNORECASE)

#: metric name -> (kind, getter). Kinds: size (bytes), ratio, count.
METRICS: dict[str, tuple[str, Callable[[ChurnTotals], float]]] = {
    "replaced": ("size", lambda t: t.replaced_bytes),
    "delta": ("size", lambda t: t.delta_bytes),
    "added": ("size", lambda t: t.bytes_added),
    "removed": ("size", lambda t: t.bytes_removed),
    "modified": ("size", lambda t: t.bytes_modified_new),
    "growth": ("size", lambda t: t.growth_bytes),
    "new_unpacked": ("size", lambda t: t.new_unpacked),
    "download_growth": ("size", lambda t: t.new_download - t.old_download),
    "churn": ("ratio", lambda t: t.churn_ratio),
    "growth_ratio": ("ratio", lambda t: (t.growth_bytes / t.old_unpacked) if t.old_unpacked else 0.0),
    "files_added": ("count", lambda t: t.files_added),
    "files_removed": ("count", lambda t: t.files_removed),
    "files_modified": ("count", lambda t: t.files_modified),
    "files_renamed": ("count", lambda t: t.files_renamed),
    "files_changed": ("count", lambda t: t.files_changed),
}


class RuleError(ValueError):
    """A rule or size that cannot be parsed; the message says what is wrong."""


def parse_size(text: str) -> int:
    """Bytes in a human size: ``10KB`` (SI, 10,000), ``10KiB`` (IEC, 10,240), ``1.5G``, ``512``."""
    m = _SIZE.match(text)
    if not m:
        raise RuleError(f"not a size: {text!r} (examples: 512, 10KB, 1.5MiB, 2G)")
    unit = (m.group(2) or "").lower()
    return int(float(m.group(1)) * _UNITS[unit])


def _parse_ratio(text: str) -> float:
    t = text.strip()
    try:
        return float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise RuleError(f"not a ratio: {text!r} (examples: 5%, 0.05)") from None


@dataclass(frozen=True)
class Rule:
    """One parsed gate rule."""

    text: str
    metric: str
    op: str
    threshold: float

    def value(self, totals: ChurnTotals) -> float:
        """The metric's value in ``totals``."""
        return METRICS[self.metric][1](totals)

    def trips(self, totals: ChurnTotals) -> bool:
        """True when the rule's condition holds (the gate fails)."""
        return _OPS[self.op](self.value(totals), self.threshold)


def parse_rule(text: str) -> Rule:
    """Parse ``METRIC OP VALUE`` (e.g. ``replaced>50MB``, ``churn>5%``)."""
    m = _RULE.match(text)
    if not m:
        raise RuleError(f"not a rule: {text!r} (form: METRIC OP VALUE, e.g. 'replaced>50MB' or 'churn>5%')")
    metric, op, raw = m.group(1).lower(), m.group(2), m.group(3)
    if metric not in METRICS:
        raise RuleError(f"unknown metric {metric!r} in {text!r} (known: {', '.join(METRICS)})")
    kind = METRICS[metric][0]
    if kind == "size":
        neg = raw.startswith("-")
        threshold: float = -parse_size(raw[1:]) if neg else parse_size(raw)
    elif kind == "ratio":
        threshold = _parse_ratio(raw)
    else:
        try:
            threshold = int(raw)
        except ValueError:
            raise RuleError(f"not a count: {raw!r} in {text!r}") from None
    return Rule(text.strip(), metric, op, threshold)


def load_rules_file(path: Path) -> list[Rule]:
    """Rules from a TOML file: ``fail-on = ["replaced>50MB", "churn>5%"]`` (``rules`` also accepted)."""
    import tomllib  # here: only a diff given --rules reads TOML

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rules ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: not valid TOML ({exc})") from None
    items = data.get("fail-on", data.get("fail_on", data.get("rules")))
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise RuleError(f"{path}: expected a list of strings 'fail-on = [\"replaced>50MB\", ...]'")
    return [parse_rule(i) for i in items]


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule against one diff."""

    rule: Rule
    value: float
    tripped: bool

    @property
    def verdict(self) -> str:
        """``PASS`` or ``FAIL``."""
        return "FAIL" if self.tripped else "PASS"


def evaluate(rules: Iterable[Rule], result: DiffResult) -> list[RuleResult]:
    """Check every rule against the diff's totals."""
    return [RuleResult(r, r.value(result.totals), r.trips(result.totals)) for r in rules]
