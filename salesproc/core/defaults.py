"""Defaults and limits, each in one place: the model, lint, the simulator and the command
line all read them from here.

Limits keep a mistyped number from becoming a run that takes hours or all the memory;
each is far above what a real sales process needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

# simulation.start when the file does not say: a fixed day (a Monday), so a file's results
# are the same whichever day it is run; the dates in a file count from its start
DEFAULT_START = dt.date(2026, 1, 5)
DEFAULT_HORIZON_DAYS = 365.0  # simulation.horizon when the file does not say
DEFAULT_REPLICATIONS = 20
DEFAULT_SEED = 1

MAX_HORIZON_DAYS = 1_000_000.0  # 2,700 years: a typo, not a plan
MAX_FORECAST_DAYS = 36_525.0  # a century: the farthest a forecast or backtest looks ahead
MAX_REPLICATIONS = 10_000
MAX_WORKERS = 256
MAX_DURATION = 1_000_000.0  # any single time in a file, in its time unit (the schema's bound)

MAX_CAMPAIGN_LEADS = 1_000_000  # one campaign's leads (the schema's bound on leads)
MAX_LEADS = 50_000_000  # over all replications of one command: beyond this a run takes minutes
MAX_VISITS = 100_000_000  # stage visits over one command: ~10 minutes on one core
MAX_OPEN_DEALS = 1_000_000  # deals open at once in one replication (~0.5 GB): an overload
MAX_VISITS_PER_DEAL = 10_000  # a rework loop a deal goes round more often never exits
MAX_SWEEP_POINTS = 60
HIRE_REPLICATIONS = 10  # runs each try of one more person makes (paired with the first ones)
MAX_HIRE_CHECKS = 3  # roles tried with one more person (simulate's bottleneck): the most waited for
LITTLE_TIME_FOR_DEALS = 0.1  # a role's time_for_deals below this is a slip (SP504): 0.06 for 0.6?
MATERIAL_CHANGE = 0.01  # a hire helps if it surely shortens the cycle, or adds wins, by 1% or more
MAX_RESULTS_BYTES = 64_000_000  # a saved result's JSON (simulate, backtest): ~1 MB in practice
EVENT_LOG_WARNING_BYTES = 1_000_000_000  # --events files larger than this get a warning

#: The most origins one backtest takes: twenty years of months.
MAX_ORIGINS = 240

#: The CRM exports read_history knows, by the name --crm takes (here, not with the readers:
#: the command line names them without importing the readers, which import pyarrow).
CrmFormat = Literal["salesforce", "hubspot", "generic", "events"]
CRM_FORMATS: tuple[CrmFormat, ...] = get_args(CrmFormat)
