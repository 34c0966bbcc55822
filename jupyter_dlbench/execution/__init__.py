"""Execution layer: notebook jobs, scheduling and executors."""
