"""Pipeline simulation: the event queue, random streams, people, compiled tables, the
engine and its collectors (the kernel, compiled with mypyc where it could be: see
:mod:`salesproc.sim.compiled`, which makes sure it never runs from older sources)."""

from salesproc.sim import compiled

compiled.guard()
