-- cancel: a waiting, delayed or blocked job never runs (nor do its blocked children); a running one is flagged, its worker
-- learns it from extend and its outcome is recorded as cancelled.
-- KEYS: ready delayed dead stats config wake events
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: job id
-- Returns 1 cancelled, 2 cancel requested (running), 0 not found or already finished.
local id = ARGV[2]
local key = jobkey(id)
local state, priority = unpack(redis.call('HMGET', key, F.state, F.priority))
if state == STATE.waiting then
  redis.call('LREM', READY[(tonumber(priority) or 2) + 1], 1, id)
elseif state == STATE.delayed then
  redis.call('ZREM', DELAYED, id)
elseif state == STATE.blocked then
  count('unblocked')  -- in no list: it waited for its parents
elseif state == STATE.active then
  redis.call('HSET', key, F.cancel, 1)
  emit('cancel_requested', id)
  flush()
  return 2
else
  return 0
end
make_finished(id, key, STATE.cancelled, now_ms(), config())
count('cancelled')
flush()
return 1
