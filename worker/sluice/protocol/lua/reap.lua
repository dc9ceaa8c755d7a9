-- reap: expired leases back to the front of their ready list, or to the dead-letter
-- queue with reason 'lease_expired' once the job has used its attempts.
-- (claim also reaps a few on every call; this one sweeps up to ARGV[2].)
-- KEYS: ready delayed leases dead stats config wake events keyrun
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: max leases to reap
-- Returns the number of expired leases handled.
local now = now_ms()
local n = reap(now, config(), tonumber(ARGV[2]))
flush()
return n
