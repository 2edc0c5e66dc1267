"""Finding deal ids among a known set fast: a history of tens of millions of rows is
matched to its deals block by block, without keeping its ids as text.

Ids that are ASCII (as CRM ids are) become fixed-width bytes and a 64-bit hash of them;
the set's hashes are sorted once, each block is looked up by binary search (numpy), and
every match is confirmed byte for byte, so a collision can never match a wrong deal.
Other ids fall back to pyarrow's hash look-up per block.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_WIDTH = 64  # longer ids take the hash look-up


class IdIndex:
    """The position of each of a set of distinct *ids*, for finding many ids at once."""

    def __init__(self, ids: pa.Array) -> None:
        self.ids = ids
        lengths = pc.binary_length(ids)
        self.width = int(pc.max(lengths).as_py() or 1) if len(ids) else 1
        self.fixed = self.width <= MAX_WIDTH and bool(
            pc.all(pc.string_is_ascii(ids)).as_py() if len(ids) else True)
        if self.fixed:
            self.weights = np.random.default_rng(0x5A1E5).integers(
                1, 1 << 63, self.width, dtype=np.uint64) | np.uint64(1)
            self.keys = _fixed(ids, self.width)
            hashes = self._hash(self.keys)
            self.order = np.argsort(hashes, kind="stable")
            self.sorted = hashes[self.order]

    def find(self, values: pa.Array) -> np.ndarray:
        """For each of *values*, the position of that id in the set, or -1 (int32)."""
        if not len(values):
            return np.zeros(0, dtype=np.int32)
        if not self.fixed or not len(self.ids) or not pc.all(pc.string_is_ascii(values)).as_py():
            found = pc.index_in(values, value_set=self.ids).fill_null(-1)
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int32)
        too_long = np.asarray(pc.greater(pc.binary_length(values), self.width).to_numpy(
            zero_copy_only=False), dtype=bool)
        keys = _fixed(pc.utf8_slice_codeunits(values, 0, self.width), self.width)
        hashes = self._hash(keys)
        ascending = np.argsort(hashes)  # numpy's binary search runs far faster on sorted keys
        place = np.empty(len(hashes), dtype=np.int64)
        place[ascending] = np.searchsorted(self.sorted, hashes[ascending])
        np.minimum(place, len(self.sorted) - 1, out=place)
        candidate = self.order[place]
        hit = (self.sorted[place] == hashes) & (self.keys[candidate] == keys) & ~too_long
        return np.where(hit, candidate, -1).astype(np.int32)

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        """A 64-bit hash of fixed-width byte strings (a weighted sum, wrapping)."""
        matrix = keys.view(np.uint8).reshape(len(keys), self.width).astype(np.uint64)
        with np.errstate(over="ignore"):
            hashes: np.ndarray = matrix @ self.weights
        return hashes


def _fixed(values: pa.Array, width: int) -> np.ndarray:
    """ASCII text as fixed-width bytes (NUL-padded), one numpy element each."""
    padded = pc.utf8_rpad(values.cast(pa.string()), width=width, padding="\x00")
    if padded.offset or padded.null_count:
        padded = pa.concat_arrays([padded.fill_null("")])
    data = padded.buffers()[2]
    return np.frombuffer(data, dtype=f"S{width}", count=len(padded)) if data is not None \
        else np.zeros(len(padded), dtype=f"S{width}")
