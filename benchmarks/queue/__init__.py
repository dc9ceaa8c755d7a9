"""Queue benchmarks: enqueue, drain and memory against a local redis-server."""
