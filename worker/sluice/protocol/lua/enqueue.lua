-- enqueue: add a batch of jobs; an id that already exists is left alone (idempotent).
-- KEYS: ready delayed stats config wake events
-- uses: enqueue
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: number of jobs n; then 7 fields per job (see _enqueue.lua)
-- Returns {1, added} or, when max_length would be exceeded, {0, waiting, max_length}
-- and adds nothing.
return enqueue_batch(2)
