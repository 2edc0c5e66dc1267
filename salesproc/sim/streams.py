"""Independent, reproducible random streams, drawn in blocks.

Every use of randomness (arrivals, buyer type, deal keys, each buyer's deal values, each
stage's delay and work, each approval's delay and work) has its own stream, seeded from
(seed, replication, name of the use) through numpy's SeedSequence; routes and approval
verdicts are hashed per deal (see the end of this module). So:

* replications are independent, and identical whatever process runs them;
* two variants of a process draw the same numbers for the same stage (common random
  numbers), because a stream depends only on its name, not on what else exists.

Drawing one number at a time from numpy costs about a microsecond; drawing blocks of
512 and handing them out one by one costs a tenth of that.
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from salesproc.core.dists import Distribution

BLOCK: Final = 512


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """A numpy generator seeded from (seed, replication, name): one stream per use."""
    key = (replication, zlib.crc32(name.encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


Stream = Callable[[], Any]


def stream(make_block: Callable[[int], Any]) -> Stream:
    """A zero-argument callable handing out values one by one, from blocks of *BLOCK*
    made by *make_block(size)*. It is the __next__ of a C-level iterator chaining the
    blocks: a draw costs no Python call on the hot path."""
    blocks = iter(lambda: make_block(BLOCK).tolist(), None)  # endless: never None
    return itertools.chain.from_iterable(blocks).__next__


def draws(dist: Distribution, rng: np.random.Generator) -> Stream:
    """Draws of one distribution."""
    return stream(functools.partial(dist.sample, rng))


def uniforms(rng: np.random.Generator) -> Stream:
    """Uniform numbers in [0, 1), for arrivals and buyer types."""
    return stream(rng.random)


def sampler(dist: Distribution, seed: int, replication: int, name: str
            ) -> Callable[[], float]:
    """A zero-argument callable giving draws of *dist*; a distribution without spread
    needs no random numbers, so it uses no stream."""
    if dist.variance == 0:
        value = dist.mean
        return lambda: value
    return draws(dist, generator(seed, replication, name))


def is_zero(dist: Distribution) -> bool:
    """True for a distribution that is always 0 (no draw needed)."""
    return dist.variance == 0 and dist.mean == 0.0


# --- per-deal draws -----------------------------------------------------------------------
# Routes and approval verdicts decide a deal's fate. Drawing them from a stage's stream in
# the order deals reach the stage would give a deal another number whenever a variant
# reorders deals (more capacity, say). Instead each is a hash of (the deal, what is drawn,
# which visit): the same deal meets the same luck at the same stage in every variant.

_MASK: Final = (1 << 64) - 1


def mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit integer from any integer."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(x: int) -> float:
    """A uniform number in [0, 1) from an integer key (53 random bits); mix(), inlined."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) * 1.1102230246251565e-16


def units(x: np.ndarray) -> np.ndarray:
    """unit() of every element of a uint64 array, at numpy's speed: uint64 arithmetic wraps
    around as unit's ``& _MASK`` does, and 53 bits are exact in a float, so each is the
    very number unit() gives."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64)
    return out * 1.1102230246251565e-16


CHUNK: Final = 64  # rows of KeyedDeals made Python floats at once (BLOCK is a multiple)


class KeyedDeals:
    """Deal keys, random 63-bit integers from *rng* in arrival order, each handed
    out with its deal's draws for a first visit: ``unit(key ^ salt)`` for each of its buyer
    type's salts (one per stage), worked out for a block of keys at once when the first
    deal of that buyer type in the block asks, and made Python floats CHUNK rows at a
    time as deals reach them (a run that makes a few dozen deals, as a forecast's do,
    does not pay for turning all BLOCK rows into floats). A route's hash costs a third of a
    microsecond in Python per stage visit; most visits are first ones."""

    def __init__(self, rng: np.random.Generator, salts: Sequence[Sequence[int]]) -> None:
        self.rng = rng
        self.salts = [np.array(row, dtype=np.uint64) for row in salts]  # per buyer type
        self.next = BLOCK
        self.keys: list[int] = []
        self.block = np.zeros(0, dtype=np.uint64)
        self.units: list[np.ndarray | None] = []  # per buyer type, this block's draws
        self.rows: list[dict[int, list[list[float]]]] = []  # per buyer type, by chunk

    def deal(self, buyer: int) -> tuple[int, list[float]]:
        """The next deal's key and its first-visit draws, one per stage of *buyer*."""
        i = self.next
        if i == BLOCK:
            block = self.rng.integers(0, 1 << 63, BLOCK)
            self.keys = block.tolist()
            self.block = block.astype(np.uint64)
            self.units = [None] * len(self.salts)
            self.rows = [{} for _ in self.salts]
            i = 0
        self.next = i + 1
        chunk, row = i // CHUNK, i % CHUNK
        rows = self.rows[buyer].get(chunk)
        if rows is None:
            drawn = self.units[buyer]
            if drawn is None:
                drawn = self.units[buyer] = units(
                    self.block[:, None] ^ self.salts[buyer][None, :])
            start = chunk * CHUNK
            rows = self.rows[buyer][chunk] = drawn[start:start + CHUNK].tolist()
        return self.keys[i], rows[row]


def salt(seed: int, replication: int, name: str) -> int:
    """A 64-bit key for one named draw in one replication."""
    text = name.encode("utf-8")
    return mix((seed & _MASK) ^ mix(replication) ^ (zlib.crc32(text) << 32)
               ^ zlib.crc32(text[::-1]))
