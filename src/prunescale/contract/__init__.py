"""The on-disk contract between stages: the study directory, a run directory, a model directory's record, the
cell status table, and how variants and cells are named. Bottom-level: imports only errors, fileio, budgets."""
