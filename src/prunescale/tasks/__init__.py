"""Benchmarks as a registry of tasks (one module per family, found by ``TASKS``): load problems, extract and
grade answers."""

from .base import TASKS, Problem, Task, get_task

__all__ = ["TASKS", "Problem", "Task", "get_task"]
