"""The foundations every layer uses: units of time, calendars, defaults, diagnostics and
errors, statistics, distributions, escaping, and writing files safely. Imports nothing
above itself."""
