"""Operator benchmarks: reaction time to a backlog, and the cost of polling many JobQueues."""
