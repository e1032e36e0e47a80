"""The event log: one row per closure, relocation, branch, entry, exit, de-capacity closure
and high-tech upgrade (a firm of Hebei that becomes high-tech where it is).

Stored as compact numpy chunks while the model runs. With a ``sink`` (``ParquetEventWriter``)
the chunks go to ``events.parquet`` while the model runs, a row group every ``FLUSH_ROWS``
events, encoded by a background thread (pyarrow releases the GIL while it encodes and
compresses), so the log never piles up in memory; without one they are kept for ``arrays()``
and ``to_frame()`` (tests, small runs). ``src``/``dst`` are place indices (-1: none);
``parent`` is the parent's row for branches.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import pandas as pd

KINDS = ("closure", "relocation", "branch", "entry", "exit", "decapacity", "upgrade")
NAMES = ("kind", "quarter", "firm", "src", "dst", "sector", "parent")
# Rows per Parquet row group: large enough for good compression and few groups (13 M events by
# 2035 at full scale: 13 groups), small enough that a buffered group stays near 17 MB.
FLUSH_ROWS = 1 << 20


class EventLog:
    """The model's event log: counts by kind always, the events themselves when ``enabled``
    (kept in memory, or handed to ``sink`` a row group at a time)."""

    def __init__(self, enabled: bool = True, sink=None):
        self.enabled = enabled
        self._chunks: list[tuple] = []
        self._buffered = 0
        self.sink = sink if enabled else None
        self.counts = dict.fromkeys(KINDS, 0)

    def add(self, kind: str, quarter: int, firm, src, dst, sector, parent=None) -> None:
        """Log one event of ``kind`` (one of KINDS) per row of ``firm`` in ``quarter``; ``src``,
        ``dst``, ``sector`` and ``parent`` (default -1) give each row's places, sector and parent."""
        k = len(firm)
        self.counts[kind] += k
        if not self.enabled or k == 0:
            return
        self._chunks.append((
            np.full(k, KINDS.index(kind), np.int8), np.full(k, quarter, np.int16),
            np.asarray(firm, np.int32), np.asarray(src, np.int16), np.asarray(dst, np.int16),
            np.asarray(sector, np.int8), np.full(k, -1, np.int32) if parent is None else np.asarray(parent, np.int32),
        ))
        self._buffered += k
        if self.sink is not None and self._buffered >= FLUSH_ROWS:
            self.flush()

    def _concat(self) -> dict[str, np.ndarray]:
        if not self._chunks:
            return {n: np.empty(0, dtype=np.int64) for n in NAMES}
        return {n: np.concatenate([c[i] for c in self._chunks]) for i, n in enumerate(NAMES)}

    def flush(self) -> None:
        """Hand the buffered events to the sink as one row group."""
        if self.sink is not None and self._chunks:
            self.sink.write(self._concat())
            self._chunks, self._buffered = [], 0

    def arrays(self) -> dict[str, np.ndarray]:
        """The logged events as {column: array} in NAMES order (codes, not names); RuntimeError if
        the log was streamed to its sink."""
        if self.sink is not None:
            raise RuntimeError("the event log was streamed to its sink; read the Parquet file instead")
        return self._concat()

    def to_frame(self, place_ids, sector_ids, quarter_dates) -> pd.DataFrame:
        """The logged events as a DataFrame (date, event, firm, from_place, to_place, sector,
        parent), codes turned into categoricals of ``place_ids``, ``sector_ids`` and
        ``quarter_dates`` (the date of each quarter index); a missing place is NaN."""
        a = self.arrays()
        place_cat = pd.Categorical.from_codes(np.asarray(a["src"], np.int64), categories=list(place_ids)) \
            if len(a["src"]) else pd.Categorical([], categories=list(place_ids))
        dst_cat = pd.Categorical.from_codes(np.asarray(a["dst"], np.int64), categories=list(place_ids)) \
            if len(a["dst"]) else pd.Categorical([], categories=list(place_ids))
        return pd.DataFrame({
            "date": pd.Categorical.from_codes(np.asarray(a["quarter"], np.int64), categories=list(quarter_dates)),
            "event": pd.Categorical.from_codes(np.asarray(a["kind"], np.int64), categories=list(KINDS)),
            "firm": a["firm"],
            "from_place": place_cat,
            "to_place": dst_cat,
            "sector": pd.Categorical.from_codes(np.asarray(a["sector"], np.int64), categories=list(sector_ids)),
            "parent": a["parent"],
        })


class ParquetEventWriter:
    """``events.parquet`` written while the model runs: row groups encoded by a background
    thread. Columns: date, event, from_place, to_place, sector (dictionary-encoded strings),
    firm, parent (int32); pandas reads them as categoricals, as ``EventLog.to_frame`` gives."""

    def __init__(self, path, place_ids, sector_ids, quarter_dates, compression: str = "zstd"):
        import pyarrow as pa  # pyarrow's parquet modules only in a run that writes its event log (start-up)
        import pyarrow.parquet as pq

        self._pa = pa
        self._dicts = {"date": pa.array(list(quarter_dates)), "event": pa.array(list(KINDS)),
                       "place": pa.array(list(place_ids)), "sector": pa.array(list(sector_ids))}
        d = pa.dictionary
        self.schema = pa.schema([("date", d(pa.int16(), pa.string())), ("event", d(pa.int8(), pa.string())),
                                 ("firm", pa.int32()), ("from_place", d(pa.int16(), pa.string())),
                                 ("to_place", d(pa.int16(), pa.string())), ("sector", d(pa.int8(), pa.string())),
                                 ("parent", pa.int32())])
        self._writer = pq.ParquetWriter(str(path), self.schema, compression=compression)
        self._queue: queue.Queue = queue.Queue(maxsize=2)  # at most two groups waiting
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="events.parquet", daemon=True)
        self._thread.start()

    def _table(self, a: dict):
        pa = self._pa

        def cat(codes, dictionary, index_type):
            codes = np.asarray(codes)
            mask = codes < 0
            idx = pa.array(codes.astype(index_type, copy=False), mask=mask if mask.any() else None)
            return pa.DictionaryArray.from_arrays(idx, dictionary)

        return pa.Table.from_arrays([
            cat(a["quarter"], self._dicts["date"], np.int16), cat(a["kind"], self._dicts["event"], np.int8),
            pa.array(a["firm"].astype(np.int32, copy=False)), cat(a["src"], self._dicts["place"], np.int16),
            cat(a["dst"], self._dicts["place"], np.int16), cat(a["sector"], self._dicts["sector"], np.int8),
            pa.array(a["parent"].astype(np.int32, copy=False))], schema=self.schema)

    def _work(self) -> None:
        while True:
            a = self._queue.get()
            if a is None:
                return
            if self._error is None:
                try:
                    self._writer.write_table(self._table(a), row_group_size=len(a["firm"]))
                except BaseException as e:  # reported by write() or close() in the model's thread
                    self._error = e

    def write(self, arrays: dict) -> None:
        """Queue one row group ({column: array}, as ``EventLog`` buffers it) for the writer thread;
        raises the error the thread met on an earlier group, if any."""
        if self._error is not None:
            raise self._error
        self._queue.put(arrays)

    def close(self) -> None:
        """Wait for the last row group and finish the file (raises what the writer met)."""
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop without raising (the run failed; its staging directory goes away)."""
        try:
            self._queue.put(None)
            self._thread.join()
            self._writer.close()
        except BaseException:
            pass
