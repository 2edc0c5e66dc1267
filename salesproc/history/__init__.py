"""Deal history from CRM exports: readers, the mapping onto a process, and the one
typed table that measuring, calibrating and forecasting read."""

from salesproc.history.notes import HistoryError, Note
from salesproc.history.read import FORMATS, read_history
from salesproc.history.table import Deals, History, Visits

__all__ = ["FORMATS", "Deals", "History", "HistoryError", "Note", "Visits", "read_history"]
