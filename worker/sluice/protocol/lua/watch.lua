-- watch: where one job stands, for a waiter; while the job has not ended, it also
-- marks that someone waits (q:{N}:wt:<id>, expiring with the waiter), so the script
-- that ends the job writes the end notice q:{N}:dn:<id> the waiter blocks on (XREAD).
-- Unwatched jobs pay one EXISTS when they end, nothing more.
-- KEYS: config (for routing only: the job's keys share the queue's hash tag)
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: how long the waiter markers must live at least (ms); ARGV[3..]: job ids (the
-- waits of one process go together: one call for a burst of them)
-- Returns, per id, {} when there is no such job, else {state, result, error, dead_reason,
-- notice} (nil when absent; the result only for a completed job; notice: the id of the
-- end notice already there, which the waiter's XREAD must read after: a stale one, left
-- by an earlier end of a dead letter since requeued, must not end this wait).
local ttl = tonumber(ARGV[2])

local function watch(id)
  local key = jobkey(id)
  local task, state, err, reason =
    unpack(redis.call('HMGET', key, F.task, F.state, F.error, F.dead_reason))
  if not task then return {} end
  state = state or STATE.waiting
  if state == STATE.completed then return {state, redis.call('GET', reskey(id)), err, reason} end
  if state == STATE.dead or state == STATE.cancelled then return {state, false, err, reason} end
  local marker = PREFIX .. 'wt:' .. id
  -- Several waiters share the marker: one with a short timeout must not cut a longer one's.
  if redis.call('PTTL', marker) < ttl then redis.call('SET', marker, '1', 'PX', ttl) end
  local stale = redis.call('XREVRANGE', PREFIX .. 'dn:' .. id, '+', '-', 'COUNT', 1)[1]
  return {state, false, false, false, stale and stale[1] or '0-0'}
end

local out = {}
for i = 3, #ARGV do out[#out + 1] = watch(ARGV[i]) end
return out
