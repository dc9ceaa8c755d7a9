-- enqueue: add a batch of jobs; an id that already exists is left alone (idempotent).
-- KEYS: ready delayed dead stats config wake events
-- uses: enqueue
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: number of jobs n; then 9 fields per job (see _enqueue.lua)
-- Returns {1, added}, or adds nothing and returns {0, waiting, max_length} (queue full) or
-- {2, id, parent} (a parent the queue does not hold; see _enqueue.lua)
return enqueue_batch(2)
