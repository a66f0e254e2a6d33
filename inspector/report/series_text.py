"""Series and vendor comparisons as terminal tables, Markdown, CSV and JSON-able data."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from inspector.report.common import count, markdown_table, size, table, wrap
from inspector.report.series_findings import (
    code_churn_sentence,
    comparison_sentence,
    has_code,
    highlight_message,
    ratio_text,
)
from inspector.series.model import SERIES_SCHEMA_VERSION, Comparison, PatchRow, SeriesReport

ROW_HEADERS = ["#", "date", "label", "kind", "download", "footprint after", "+files", "-files", "~files",
               "replaced", "delta", "code churn", "code growth", "reboot", "flags"]
#: Columns of ``ROW_HEADERS`` holding numbers (right-aligned, sorted numerically in HTML).
NUMERIC_COLUMNS = frozenset({0, 4, 5, 6, 7, 8, 9, 10, 11, 12})
#: Columns left out first when the table is too wide for the terminal (least useful first): code growth
#: before the files counts, code churn only after the date (the question the column answers is asked).
DROP_ORDER = (12, 5, 7, 6, 3, 13, 1, 11)


def signed_size(n: int) -> str:
    """A growth as people write it: ``+1.0 KiB``, ``-512 Bytes``, ``0 Bytes``."""
    return f"+{size(n)}" if n > 0 else f"-{size(-n)}" if n < 0 else size(0)


def reboot_text(value: bool | None) -> str:
    """yes / no / unknown."""
    return {True: "yes", False: "no", None: "unknown"}[value]


def flags(row: PatchRow, report: SeriesReport) -> str:
    """Short flags: WHOLE (most of the footprint replaced), SHARP (highlighted close release), INCOMPLETE."""
    out = []
    if row.whole_image_replaced:
        out.append("WHOLE")
    if any(h.label == row.label for h in report.highlights):
        out.append("SHARP")
    if not row.complete:
        out.append("INCOMPLETE")
    return " ".join(out)


def row_cells(row: PatchRow, report: SeriesReport) -> list[str]:
    """One patch as table cells (human sizes)."""
    c = row.churn
    return [
        str(row.index), row.date.isoformat() if row.date else "-", row.label, row.kind or "-", size(row.download),
        size(row.footprint_after),
        str(c.files_added) if c else "-", str(c.files_removed) if c else "-", str(c.files_modified) if c else "-",
        size(c.replaced_bytes) if c else "-", size(c.delta_bytes) if c else "-",
        size(c.code_churned) if c else "-", signed_size(c.code_growth) if c else "-",
        reboot_text(row.reboot_required), flags(row, report),
    ]


def rows_table(report: SeriesReport, markdown: bool = False, width: int | None = None) -> str:
    """The per-patch table (labels shortened in the middle when ``width`` is too narrow for them)."""
    rows = [row_cells(r, report) for r in report.rows]
    render = markdown_table if markdown else table
    return render(rows, ROW_HEADERS, right=set(NUMERIC_COLUMNS), width=width, shrink={2, len(ROW_HEADERS) - 1},
                  drop=DROP_ORDER)


def window_text(report: SeriesReport) -> str:
    """``2008-07-01 .. 2009-06-30`` or ``all releases``."""
    if not (report.since or report.until):
        return "all releases"
    since = report.since.isoformat() if report.since else "..."
    until = report.until.isoformat() if report.until else "..."
    return f"{since} .. {until}"


def totals_lines(report: SeriesReport) -> list[str]:
    """The totals block: counts, sums, mean and largest patch, kinds, reboots."""
    t = report.totals
    lines = [
        f"patches            {t.patches} ({window_text(report)})",
        f"total download     {size(t.download)} ({t.download:,} bytes)",
        f"total replaced     {size(t.replaced_bytes)} ({t.replaced_bytes:,} bytes)",
        f"total delta        {size(t.delta_bytes)} ({t.delta_bytes:,} bytes)",
        f"footprint growth   {size(t.growth_bytes) if t.growth_bytes >= 0 else '-' + size(-t.growth_bytes)}",
        f"files              +{t.files_added} -{t.files_removed} ~{t.files_modified}",
        f"mean patch         {size(int(t.mean_download))} download, {size(int(t.mean_delta))} delta",
    ]
    if t.largest_download:
        lines.append(f"largest download   {t.largest_download[0]} ({size(t.largest_download[1])})")
    if t.largest_delta:
        lines.append(f"largest delta      {t.largest_delta[0]} ({size(t.largest_delta[1])})")
    if has_code(report):
        lines.append(f"code churned       {size(t.code_churned)} ({t.code_churned:,} bytes), "
                     f"{size(int(t.mean_code_churned))} per patch, growth {signed_size(t.code_growth)}")
    lines.append("kinds              " + (", ".join(f"{k} {n}" for k, n in t.kinds) or "-"))
    lines.append("reboot required    " + ", ".join(f"{k} {n}" for k, n in t.reboots))
    if t.whole_image_replaced:
        lines.append(f"whole image        {count(t.whole_image_replaced, 'patch', 'patches')} replaced most of the "
                     "footprint")
    return lines


def category_churn(report: SeriesReport) -> tuple[list[str], list[tuple[str, list[int]]], list[int]] | None:
    """Per-category figures of a ``--profile`` series: (category names, per-patch replaced bytes by category,
    footprint by category after the last patch), or None when no profile was applied."""
    rows_with = [r for r in report.rows if r.categories]
    if not rows_with:
        return None
    names = list(dict.fromkeys(c.category for r in rows_with for c in r.categories))
    rows = []
    for r in rows_with:
        replaced = {c.category: c.replaced_bytes for c in r.categories}
        rows.append((r.label, [replaced.get(n, 0) for n in names]))
    last = {c.category: c.footprint for c in rows_with[-1].categories}
    return names, rows, [last.get(n, 0) for n in names]


def categories_table(report: SeriesReport, markdown: bool = False) -> str | None:
    """Replaced bytes per patch and footprint-profile category (``--profile``), or None without one."""
    churn = category_churn(report)
    if churn is None:
        return None
    names, per_patch, last = churn
    rows = [[label, *(size(v) if v else "-" for v in values)] for label, values in per_patch]
    rows.append(["footprint after last", *(size(v) for v in last)])
    render = markdown_table if markdown else table
    return render(rows, ["replaced by category", *names], right=set(range(1, len(names) + 1)))


def series_text(report: SeriesReport, markdown: bool = False, width: int | None = None) -> str:
    """A whole series: heading, per-patch table, totals, highlights and notes."""
    head = f"## {report.name}" if markdown else f"{report.name}"
    base = f", base {report.base} ({size(report.base_footprint)})" if report.base else ""
    parts = [head, wrap(f"{report.model} images{base}; order: {report.order.detail}", width), "",
             rows_table(report, markdown, width), ""]
    totals = totals_lines(report)
    parts += ["```", *totals, "```"] if markdown else totals
    code = code_churn_sentence(report)
    if code:
        parts += ["", wrap(f"Code: {code}.", width)]
    by_category = categories_table(report, markdown)
    if by_category:
        parts += ["", by_category]
    if report.highlights:
        parts += ["", "Sharp churn between close releases:"]
        parts += [f"- {highlight_message(h)}" if markdown else wrap(f"  ! {highlight_message(h)}", width, "    ")
                  for h in report.highlights]
    parts += ["", *(f"- {n}" if markdown else wrap(f"  {n}", width, "    ") for n in report.notes)]
    return "\n".join(parts)


def comparison_table(cmp: Comparison, markdown: bool = False) -> str:
    """Both totals side by side with the A/B ratio."""
    def fmt(name: str, v: float) -> str:
        return f"{v:.0f}" if name == "patches" else size(int(v))

    rows = [[r.name, fmt(r.name, r.a), fmt(r.name, r.b), ratio_text(r.ratio)] for r in cmp.ratios]
    rows.append(["whole-image patches", str(cmp.a.totals.whole_image_replaced),
                 str(cmp.b.totals.whole_image_replaced), ""])
    headers = ["", cmp.a.name, cmp.b.name, "A/B"]
    return (markdown_table if markdown else table)(rows, headers, right={1, 2, 3})


def comparison_text(cmp: Comparison, markdown: bool = False, width: int | None = None) -> str:
    """The sentence, the side-by-side table, then each series in full."""
    parts = ["# Vendor comparison" if markdown else "Vendor comparison", "",
             wrap(comparison_sentence(cmp) + ".", width), "",
             comparison_table(cmp, markdown), "", series_text(cmp.a, markdown, width), "",
             series_text(cmp.b, markdown, width)]
    return "\n".join(parts)


CSV_FIELDS = ["series", "index", "date", "label", "file", "kind", "download", "footprint_after", "files_added",
              "files_removed", "files_modified", "replaced_bytes", "delta_bytes", "growth_bytes", "churn_ratio",
              "code_old", "code_new", "code_churned", "code_growth", "code_churn_ratio", "reboot_required",
              "reboot_source", "days_since_previous", "whole_image_replaced", "sharp", "complete"]


def to_csv(reports: list[SeriesReport]) -> str:
    """One CSV row per patch of every series (RFC 4180, header first; sizes in bytes)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for rep in reports:
        sharp = {h.label for h in rep.highlights}
        for r in rep.rows:
            c = r.churn
            w.writerow([
                rep.name, r.index, r.date.isoformat() if r.date else "", r.label, r.file, r.kind or "", r.download,
                r.footprint_after, *(("",) * 12 if c is None else (
                    c.files_added, c.files_removed, c.files_modified, c.replaced_bytes, c.delta_bytes,
                    c.growth_bytes, f"{c.churn_ratio:.4f}", c.code_old, c.code_new, c.code_churned, c.code_growth,
                    f"{c.code_churn_ratio:.4f}")),
                reboot_text(r.reboot_required), r.reboot_source,
                "" if r.days_since_previous is None else r.days_since_previous,
                str(r.whole_image_replaced).lower(), str(r.label in sharp).lower(), str(r.complete).lower(),
            ])
    return buf.getvalue()


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def series_to_dict(report: SeriesReport) -> dict[str, Any]:
    """One series as JSON-able data (every dataclass field; dates ISO, sizes in bytes)."""
    d = _plain(report)
    d["totals"]["kinds"] = dict(report.totals.kinds)
    d["totals"]["reboots"] = dict(report.totals.reboots)
    for h, plain in zip(report.highlights, d["highlights"], strict=True):
        plain["message"] = highlight_message(h)
    d["code_finding"] = code_churn_sentence(report)
    return d


def to_dict(reports: list[SeriesReport], comparison: Comparison | None) -> dict[str, Any]:
    """The ``--json`` document: schema tag and version, every series, and the comparison if any."""
    return {
        "schema": "inspector.series",
        "schema_version": SERIES_SCHEMA_VERSION,
        "series": [series_to_dict(r) for r in reports],
        "comparison": None if comparison is None else {
            "a": comparison.a.name, "b": comparison.b.name, "sentence": comparison_sentence(comparison),
            "ratios": [_plain(r) for r in comparison.ratios],
        },
    }
