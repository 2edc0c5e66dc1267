"""Predicting from a deal history: fitting the process to it (calibration and its check),
forecasts with honest ranges (forecast), backtests against naive baselines (backtest),
the statistical pieces they share (exits, rates, closing) and generated histories whose
truth is known (synthetic)."""
