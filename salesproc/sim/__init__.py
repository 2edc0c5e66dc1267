"""Pipeline simulation: engine (SimPy kernel), metrics (streaming), experiment (replications)."""
