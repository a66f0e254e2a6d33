"""Renderings of a diff: a readable summary, Markdown, CSV and the documented ``inspector.diff`` JSON.

Filters (``--only``, ``--min-size``, ``--path``) pick the changes that are listed; totals, components
and gate rules always cover the whole diff.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.diff.gate import METRICS, RuleResult
from inspector.diff.model import Change, ChangeStatus, ChurnTotals, DiffResult, changed_only, relative
from inspector.model import NEST
from inspector.report.common import count, markdown_table, short_names, size, table
from inspector.report.diff_containers import container_rows

_SHORT = {
    ChangeStatus.ADDED: "added", ChangeStatus.REMOVED: "removed", ChangeStatus.MODIFIED: "modified",
    ChangeStatus.RENAMED: "renamed", ChangeStatus.RENAMED_MODIFIED: "renamed+mod",
    ChangeStatus.UNCHANGED: "unchanged", ChangeStatus.METADATA: "metadata",
}
DEFAULT_ONLY = frozenset(s for s in ChangeStatus if s is not ChangeStatus.UNCHANGED)


@dataclass(frozen=True)
class Filters:
    """Which changes are listed."""

    only: frozenset[ChangeStatus] = DEFAULT_ONLY
    min_size: int = 0
    path: str | None = None

    def select(self, changes: Iterable[Change]) -> list[Change]:
        """The changes that pass every filter (unchanged files are only read back when listed)."""
        out = []
        for c in changes if ChangeStatus.UNCHANGED in self.only else changed_only(changes):
            if c.status not in self.only or c.size < self.min_size:
                continue
            if self.path is not None and not any(
                fnmatch.fnmatchcase(p, self.path) for p in _paths(c)
            ):
                continue
            out.append(c)
        return out


def _paths(c: Change) -> list[str]:
    out = []
    for e in (c.new, c.old):
        if e is not None:
            out += [relative(e.path), e.path]
    return out


def parse_only(text: str) -> frozenset[ChangeStatus]:
    """``added,modified`` -> statuses (``renamed+mod``/``renamed_modified`` and ``all`` accepted)."""
    out: set[ChangeStatus] = set()
    for word in (w.strip().lower() for w in text.split(",") if w.strip()):
        if word == "all":
            return frozenset(ChangeStatus)
        if word == "changed":
            out |= DEFAULT_ONLY
            continue
        word = {"renamed+mod": "renamed_modified", "meta": "metadata"}.get(word, word)
        try:
            out.add(ChangeStatus(word))
        except ValueError:
            known = ", ".join(s.value for s in ChangeStatus)
            raise ValueError(f"unknown status {word!r} in --only (known: {known}, changed, all)") from None
    return frozenset(out)


# -- helpers ----------------------------------------------------------------------------------------------

def signed(n: int) -> str:
    """A signed human size (``+1.2 KiB``, ``-300 Bytes``, ``0``)."""
    if n == 0:
        return "0"
    return ("+" if n > 0 else "-") + size(abs(n))


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _rel(c: Change) -> str:
    if c.old is not None and c.new is not None and relative(c.old.path) != relative(c.new.path) \
            and c.status in (ChangeStatus.RENAMED, ChangeStatus.RENAMED_MODIFIED):
        return f"{relative(c.old.path)} -> {relative(c.new.path)}"
    return relative(c.path)


def _esize(e: Any) -> str:
    return size(e.size) if e is not None and e.is_leaf_file else ""


# -- text ---------------------------------------------------------------------------------------------------

def summary_rows(r: DiffResult) -> list[list[str]]:
    """The totals as (figure, old, new, change) rows: the first thing a reader sees."""
    t = r.totals
    rows = [
        ["download size", size(t.old_download), size(t.new_download), signed(t.new_download - t.old_download)],
        ["unpacked footprint", size(t.old_unpacked), size(t.new_unpacked), signed(t.growth_bytes)],
        ["files added", "", f"{t.files_added:,}", size(t.bytes_added)],
        ["files removed", f"{t.files_removed:,}", "", size(t.bytes_removed)],
        ["files modified", size(t.bytes_modified_old), size(t.bytes_modified_new), count(t.files_modified, "file")],
        ["files renamed/moved", "", "", f"{t.files_renamed:,}"],
        ["metadata only", "", "", f"{t.files_metadata_only:,}"],
        ["files unchanged", "", "", f"{t.files_unchanged:,}"],
        ["replaced bytes", "", "", f"{size(t.replaced_bytes)} (churn {_pct(t.churn_ratio)} of old)"],
        ["delta bytes", "", "", _delta_text(r, t)],
    ]
    if t.other_changes:
        rows.append(["dirs/links changed", "", "", f"{t.other_changes:,}"])
    return rows + code_churn_rows(t)


def code_churn_rows(t: ChurnTotals) -> list[list[str]]:
    """The code churn block (none when neither release has an analysed executable): code old -> new,
    how much of it changed, in how many executables, and the same for initialised data."""
    if not (t.code_old or t.code_new or t.data_old or t.data_new):
        return []
    return [
        ["code (executables)", size(t.code_old), size(t.code_new), signed(t.code_growth)],
        ["code churned", "", "", code_churn_text(t)],
        ["executables modified", "", "", executables_text(t)],
        ["data (executables)", size(t.data_old), size(t.data_new), f"{size(t.data_churned)} churned"],
    ]


def code_churn_text(t: ChurnTotals) -> str:
    """``1.2 MiB (3.10% of old code)``, saying how many executables had no code estimate."""
    text = f"{size(t.code_churned)} ({_pct(t.code_churn_ratio)} of old code"
    if t.code_delta_skipped:
        text += f"; {count(t.code_delta_skipped, 'executable')} not estimated, code counted whole"
    if t.code_churned_writable:
        text += f"; {size(t.code_churned_writable)} of it in writable+executable sections, code and data mixed"
    return text + ")"


def executables_text(t: ChurnTotals) -> str:
    """How many modified executables changed their code, and how many kept it byte-identical."""
    return f"{t.binaries_code_changed:,} with changed code, {t.binaries_code_unchanged:,} with identical code"


def code_cell(c: Change) -> str:
    """A change's code delta for the largest-changes table: the estimate, ``same`` when the code digests are
    equal, ``?`` without an estimate, empty for a file that is no analysed executable."""
    if c.code is None or c.status not in (ChangeStatus.MODIFIED, ChangeStatus.RENAMED_MODIFIED,
                                          ChangeStatus.ADDED):
        return ""
    if not c.code.code_changed:
        return "same"
    return "?" if c.code.code_delta is None else size(c.code.code_delta)


def _delta_text(r: DiffResult, t: ChurnTotals) -> str:
    text = f"{size(t.delta_bytes)} ({r.options.delta_method}"
    if t.delta_skipped:
        text += f"; {count(t.delta_skipped, 'modified file')} not estimated, counted whole"
    if r.delta_note:
        text += f"; {r.delta_note}"
    return text + ")"


def headline(r: DiffResult, full_paths: bool = False) -> str:
    """One line: the verdict, naming the two sides by their base names (with as many parent folders as it
    takes to tell them apart; ``full_paths`` for the paths as given)."""
    state = "identical" if r.identical else ("INCOMPLETE" if not r.complete else "different")
    old, new = (r.old_source, r.new_source) if full_paths else short_names([r.old_source, r.new_source])
    return f"inspector diff: {old} -> {new}: {state}"


def largest(changes: Sequence[Change], top: int, markdown: bool = False, width: int | None = None) -> str:
    """The ``top`` largest listed changes by size, biggest first (the path starts with its component, so the
    component is not repeated in a column of its own). When executables are listed, a ``code delta``
    column says how much of their code changed (the first column left out when the terminal is narrow)."""
    listed = sorted(changes, key=lambda c: (-c.size, relative(c.path)))[:top]
    with_code = any(c.code is not None for c in listed)
    rows = [
        [_SHORT[c.status], _esize(c.old), _esize(c.new), "" if c.delta_bytes is None else size(c.delta_bytes),
         *([code_cell(c)] if with_code else []),
         _rel(c) + (f"  [{','.join(c.changed_meta)}]" if c.changed_meta else "")]
        for c in listed
    ]
    headers = ["change", "old", "new", "delta", *(["code delta"] if with_code else []), "path"]
    path = len(headers) - 1
    render = markdown_table if markdown else table
    return render(rows, headers, right=set(range(1, path)), width=width, shrink={path}, drop=(4,) if with_code else ())


def components_table(r: DiffResult, top: int, markdown: bool = False, width: int | None = None) -> str:
    """Per component: files changed, replaced and delta bytes, growth (changed components only)."""
    rows = [
        [name, f"{t.files_changed:,}", size(t.replaced_bytes), size(t.delta_bytes), signed(t.growth_bytes),
         size(t.old_unpacked), size(t.new_unpacked)]
        for name, t in r.components if t.files_changed or t.other_changes
    ][:top]
    render = markdown_table if markdown else table
    return render(rows, ["component", "files", "replaced", "delta", "growth", "old", "new"], right={1, 2, 3, 4, 5, 6},
                  width=width, shrink={0})


def container_tree(r: DiffResult, changes: Sequence[Change], markdown: bool = False,
                   width: int | None = None) -> str:
    """Changed containers as an indented tree (new names; ``was`` gives the old name of renamed ones)."""
    rows = []
    for row in container_rows(r, changes):
        label = ("  " * row.depth) + (row.path.rsplit(NEST, 1)[-1] if row.depth else row.path)
        if row.was is not None:
            label += f"  (was {row.was.rsplit(NEST, 1)[-1]})"
        rows.append([f"{row.changes:,}", size(row.replaced), size(row.delta), label])
    render = markdown_table if markdown else table
    return render(rows, ["changes", "replaced", "delta", "container"], right={0, 1, 2}, width=width, shrink={3})


def gate_lines(results: Sequence[RuleResult]) -> list[str]:
    """One ``PASS``/``FAIL`` line per rule and a result line, as in dive's CI mode."""
    lines = []
    for res in results:
        kind = METRICS[res.rule.metric][0]
        value = (_pct(res.value) if kind == "ratio" else signed(int(res.value)) if res.rule.metric.endswith("growth")
                 else size(int(res.value)) if kind == "size" else f"{int(res.value):,}")
        lines.append(f"  {res.verdict}: {res.rule.text}  ({res.rule.metric} = {value})")
    failed = sum(r.tripped for r in results)
    lines.append(f"Result: {'FAIL' if failed else 'PASS'} [Total:{len(results)}] [Passed:{len(results) - failed}] "
                 f"[Failed:{failed}]")
    return lines


def render_text(r: DiffResult, changes: Sequence[Change], top: int = 20, markdown: bool = False,
                gate: Sequence[RuleResult] | None = None, width: int | None = None) -> str:
    """The whole human report: totals, largest changes, changed containers, components, problems, gate.

    ``width`` fits the tables to a terminal (paths shortened in the middle); Markdown is never shortened
    and starts with a heading so that it renders as a document.
    """
    h = "## " if markdown else ""
    render = markdown_table if markdown else table
    head = f"# {headline(r)}" if markdown else headline(r)
    parts = [head, "", render(summary_rows(r), ["", "old", "new", "change"], right={1, 2})]
    if changes:
        shown = min(top, len(changes))
        parts += ["", f"{h}Largest changes ({shown} of {len(changes)} listed)", largest(changes, top, markdown, width)]
        parts += ["", f"{h}Changed containers", container_tree(r, changes, markdown, width)]
        if any(t.files_changed for _, t in r.components):
            parts += ["", f"{h}Components", components_table(r, top, markdown, width)]
    if r.not_compared:
        parts += ["", f"{h}Not compared (unreadable on the side named; neither removed nor added)"]
        parts += [f"{'- ' if markdown else '  '}{p}" for p in r.not_compared]
    if gate:
        lines = gate_lines(gate)
        parts += ["", f"{h}Gate"] + ([f"- {x.strip()}" for x in lines] if markdown else lines)
    return "\n".join(parts)


# -- CSV ------------------------------------------------------------------------------------------------------

CSV_FIELDS = ["status", "path", "old_path", "new_path", "kind", "old_size", "new_size", "size_change",
              "delta_bytes", "component", "old_sha256", "new_sha256", "changed_metadata", "delta_note"]
#: The ``code`` object of a change, flattened into CSV columns (empty for a file that is no executable).
CSV_CODE_FIELDS = ["code_old", "code_new", "code_delta", "code_changed", "data_old", "data_new", "data_delta",
                   "data_changed"]


def change_dict(c: Change) -> dict[str, Any]:
    """One change as a flat JSON/CSV record (paths relative to the images; full paths in old/new_path)."""
    e = c.new if c.new is not None else c.old
    assert e is not None
    old_size = c.old.size if c.old is not None else None
    new_size = c.new.size if c.new is not None else None
    return {
        "status": c.status.value,
        "path": relative(c.path),
        "old_path": c.old.path if c.old is not None else None,
        "new_path": c.new.path if c.new is not None else None,
        "kind": e.kind.value,
        "old_size": old_size,
        "new_size": new_size,
        "size_change": (new_size or 0) - (old_size or 0),
        "delta_bytes": c.delta_bytes,
        "component": c.component,
        "old_sha256": c.old.sha256 if c.old is not None else None,
        "new_sha256": c.new.sha256 if c.new is not None else None,
        "changed_metadata": list(c.changed_meta),
        "delta_note": c.delta_note,
        "code": None if c.code is None else dataclasses.asdict(c.code),
    }


def _csv_cell(value: Any) -> Any:
    """A CSV cell: empty for None, ``true``/``false`` for a flag (as in the JSON), else the value."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else value


def to_csv(changes: Sequence[Change]) -> str:
    """One RFC 4180 row per listed change, header first."""
    import csv  # here: only a diff asked for --csv writes it

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS + CSV_CODE_FIELDS)
    for c in changes:
        d = change_dict(c)
        d["changed_metadata"] = ";".join(d["changed_metadata"])
        code = d["code"] or {}
        w.writerow(["" if d[f] is None else d[f] for f in CSV_FIELDS]
                   + [_csv_cell(code.get(f)) for f in CSV_CODE_FIELDS])
    return buf.getvalue()


# -- JSON ------------------------------------------------------------------------------------------------------

def to_json_dict(r: DiffResult, changes: Sequence[Change], filters: Filters | None = None,
                 gate: Sequence[RuleResult] | None = None) -> dict[str, Any]:
    """The ``inspector.diff`` JSON document (schema documented in the README)."""
    t = r.totals
    return {
        "schema": "inspector.diff",
        "schema_version": r.schema_version,
        "old": {"source": r.old_source, "download_size": t.old_download, "unpacked_size": t.old_unpacked},
        "new": {"source": r.new_source, "download_size": t.new_download, "unpacked_size": t.new_unpacked},
        "identical": r.identical,
        "complete": r.complete,
        "options": dataclasses.asdict(r.options),
        "delta_note": r.delta_note,
        "totals": {**dataclasses.asdict(t), "files_changed": t.files_changed},
        "components": [{"component": name, **dataclasses.asdict(ct), "files_changed": ct.files_changed}
                       for name, ct in r.components],
        "filters": None if filters is None else {
            "only": sorted(s.value for s in filters.only), "min_size": filters.min_size, "path": filters.path},
        "changes": [change_dict(c) for c in changes],
        "renamed_containers": [{"old": o, "new": n} for o, n in r.renamed_containers],
        "not_compared": list(r.not_compared),
        "problems": [{"path": p.path, "side": p.side, "reason": p.reason, "kind": p.kind} for p in r.problems],
        "gate": None if gate is None else {
            "passed": not any(g.tripped for g in gate),
            "rules": [{"rule": g.rule.text, "metric": g.rule.metric, "op": g.rule.op,
                       "threshold": g.rule.threshold, "value": g.value, "result": g.verdict} for g in gate],
        },
    }
