"""Results written down for people and tools: one module per format.

:mod:`~salesproc.report.text` for a terminal, :mod:`~salesproc.report.json` for tools
(the layouts are the results' own ``to_dict()``), :mod:`~salesproc.report.csv` for
spreadsheets. Each has ``simulation``, ``comparison`` and ``sweep``.
"""
