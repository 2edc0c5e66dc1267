"""Defining and checking a process: the YAML reader, the JSON Schema, the semantic rules
(lint), the typed model, routing, queueing analysis, changes made in memory (variants)
and the starter files of `salesproc init`."""
