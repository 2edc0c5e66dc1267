"""A pandas DataFrame read as an export: its columns are the export's columns, and each
cell is turned into the text a CSV export of it holds, so that every reader, and every
rule of theirs (dates, amounts, ids, stages, the data-quality notes), reads a frame
exactly as it reads a file. A frame is read as its `to_csv()` would be, except that
whole numbers in a float column (a column of ids or amounts with an empty cell, which
pandas makes floats) are written without their '.0', as the CRM wrote them. A time with
a zone is written with its offset, and so read as a file's is: UTC kept as the local
time it says, another offset unreadable (salesproc's times are the team's local times).

Rows are the frame's index labels when they are whole numbers (as they are after
`pd.read_csv` or a SQL query), else their positions from 0; notes name the frame
`<DataFrame>` (or the name given), and its rows as `<DataFrame> row 17`.
"""

from __future__ import annotations

import datetime as dt
import numbers
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from salesproc.core import optional
from salesproc.history.csvfile import CONTROL_PATTERN, Batch, Export
from salesproc.history.notes import MAX_ROWS_SHOWN, Notebook

#: Rows turned into text at a time: bounds the memory a large frame's text takes.
BLOCK_ROWS = 1 << 16
#: Whole numbers a float holds exactly: those are written without their '.0'.
EXACT = 2.0 ** 53


def is_frame(value: object) -> bool:
    """Whether *value* is a pandas DataFrame (without importing pandas: if it is not
    imported, nothing is one)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def label(name: str) -> str:
    """What notes call a frame named *name*: in angle brackets, as no file is named."""
    return f"<{name}>"


class FrameExport(Export):
    """A DataFrame as an export: its header is its column names (as text, spaces
    trimmed), its rows its cells as text."""

    header_row = None  # a frame's column names are on no row
    noun = "table"

    def __init__(self, frame: Any, name: str, kind: str) -> None:
        self.path = label(name)
        self.kind = kind
        self._frame = frame
        self._name_columns([str(c).strip() for c in frame.columns])
        index = frame.index
        whole = optional.pandas().api.types.is_integer_dtype(index.dtype)
        self._rows = np.asarray(index, dtype=np.int64) if whole else \
            np.arange(len(frame), dtype=np.int64)

    def batches(self, columns: Sequence[str], notes: Notebook) -> Iterator[Batch]:
        """The rows, a block at a time, as text (an empty cell — None, NaN, NaT, pd.NA —
        is ''). Control characters in text cells are dropped with a note, as in a file."""
        wanted = list(dict.fromkeys(columns))
        self._note_repeated(wanted, notes)
        places = {c: self.header.index(c) for c in wanted}  # the first of a repeated name
        dropped, count = 0, 0
        shown_rows: list[int] = []
        for start in range(0, len(self._frame), BLOCK_ROWS):
            block = self._frame.iloc[start:start + BLOCK_ROWS]
            rows = self._rows[start:start + BLOCK_ROWS]
            values: dict[str, pa.Array] = {}
            controls = np.zeros(len(block), dtype=bool)
            for name, place in places.items():
                text = _text(block.iloc[:, place])
                found = np.asarray(pc.match_substring_regex(text, CONTROL_PATTERN)
                                   .to_numpy(zero_copy_only=False), dtype=bool)
                if found.any():
                    clean = pc.replace_substring_regex(text, CONTROL_PATTERN, "")
                    dropped += int(pc.sum(pc.utf8_length(text)).as_py()
                                   - pc.sum(pc.utf8_length(clean)).as_py())
                    controls |= found
                    text = clean
                values[name] = text
            count += int(controls.sum())
            shown_rows.extend(rows[controls][:MAX_ROWS_SHOWN - len(shown_rows)].tolist())
            yield Batch(rows, values)
        if dropped:
            self._note_controls(notes, dropped, shown_rows, count)


def _text(column: Any) -> pa.Array:
    """A column's cells as the text a CSV export holds ('' where empty): in bulk for the
    usual types (text, whole numbers, floats, times without a zone), cell by cell for a
    column of mixed or other values."""
    types = optional.pandas().api.types
    dtype = column.dtype
    if types.is_datetime64_dtype(dtype):  # tz-naive
        return _filled(pa.array(column.dt.strftime("%Y-%m-%d %H:%M:%S"), from_pandas=True))
    if types.is_integer_dtype(dtype):  # numpy or nullable: exact, however many digits
        return _filled(pa.array(column, from_pandas=True).cast(pa.string()))
    if types.is_float_dtype(dtype):
        return pa.array(_floats(column.to_numpy(dtype=np.float64, na_value=np.nan)),
                        pa.string())
    if types.is_object_dtype(dtype) or types.is_string_dtype(dtype) or \
            isinstance(dtype, optional.pandas().CategoricalDtype):
        try:
            text = pa.array(column.astype(object), from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):  # mixed values: cell by cell
            text = None
        if text is not None and (pa.types.is_string(text.type) or
                                 pa.types.is_large_string(text.type)):
            return _filled(text.cast(pa.string()))
    return pa.array([_cell(v) for v in column.tolist()], pa.string())


def _filled(text: pa.Array) -> pa.Array:
    return pc.fill_null(text.cast(pa.string()), "")


def _floats(values: np.ndarray) -> np.ndarray:
    """Floats as text: whole numbers (a float column of ids, or of amounts with an empty
    cell) without '.0', as the CRM wrote them; others as Python writes them; NaN empty."""
    out = np.full(len(values), "", dtype=object)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < EXACT)
    out[whole] = values[whole].astype(np.int64).astype(str)
    rest = ~whole & ~np.isnan(values)
    out[rest] = [repr(v) for v in values[rest].tolist()]
    return out


def _cell(value: object) -> str:
    """One cell as text: numpy and pandas scalars as the Python values they hold; a time
    with its zone as an ISO time with its offset (read as a file's would be)."""
    if value is None or value is optional.pandas().NA or value is optional.pandas().NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return str(_floats(np.array([float(value)]))[0])
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
