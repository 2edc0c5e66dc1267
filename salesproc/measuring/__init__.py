"""Measuring a real pipeline from its deal history: the pipeline now, flow, time in stage,
win rates and why deals are lost (measurement), and deal tables without stage history
(deal_measurement)."""
