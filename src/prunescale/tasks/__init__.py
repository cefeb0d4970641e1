"""Benchmarks as a registry of tasks: load problems, extract and grade answers."""

from . import arc, math_tasks, multiple_choice, organism  # noqa: F401  (register tasks)
from .base import TASKS, Problem, Task, get_task

__all__ = ["TASKS", "Problem", "Task", "get_task"]
