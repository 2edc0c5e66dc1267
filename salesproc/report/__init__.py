"""Results written down for people and tools: one module per format.

:mod:`~salesproc.report.text` for a terminal, :mod:`~salesproc.report.json` for tools
(the layouts are the results' own ``to_dict()``), :mod:`~salesproc.report.csv` for
spreadsheets, :mod:`~salesproc.report.html` for one self-contained page,
:mod:`~salesproc.report.markdown` for chat, mail and issues, and
:mod:`~salesproc.report.xlsx` for an Excel workbook (the review's).
"""
