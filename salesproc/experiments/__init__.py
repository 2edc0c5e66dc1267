"""Experiments on the simulation kernel: replications with their confidence intervals
(experiment, results), comparisons and sweeps on common random numbers (compare), and
a simulation's deals written as a CRM export (export)."""
