"""Report rows as CSV (for `flowviz report --csv` and the window's File ▸ Export): one header, one row each."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

EDGE_COLUMNS = ("source", "target", "connection_type", "requests", "errors", "p50_ms", "p95_ms", "p99_ms", "via")
NODE_COLUMNS = ("name", "kind", "requests", "errors", "p50_ms", "p95_ms", "p99_ms")


def _cell(value: object) -> object:
    """CSV cells: missing values (None) empty, lists joined with `;`, everything else as it is."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def rows_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """`rows` as CSV text with a header line of `columns` (keys a row lacks are left empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def columns_of(rows: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    """Every key of the rows, in first-seen order (for tables whose shape is not fixed, like findings)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return tuple(seen)
