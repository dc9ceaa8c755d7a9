"""Benchmarks that print figures: throughput, autoscaling simulation, peers."""
