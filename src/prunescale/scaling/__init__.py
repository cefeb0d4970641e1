"""Test-time scaling of a model on tasks: the run (``runner``, ``evaluate``), its store, and its metrics."""
