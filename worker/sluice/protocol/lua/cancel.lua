-- cancel: a waiting or delayed job never runs; a running one is flagged, its worker
-- learns it from extend and its outcome is recorded as cancelled.
-- KEYS: ready delayed stats config wake
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: job id
-- Returns 1 cancelled, 2 cancel requested (running), 0 not found or already finished.
local id = ARGV[2]
local key = jobkey(id)
local v = redis.call('HMGET', key, 's', 'q')
local state = v[1]
if state == 'w' then
  redis.call('LREM', READY[(tonumber(v[2]) or 2) + 1], 1, id)
elseif state == 'd' then
  redis.call('ZREM', DELAYED, id)
elseif state == 'a' then
  redis.call('HSET', key, 'c', 1)
  return 2
else
  return 0
end
make_finished(id, key, 'x', now_ms(), config())
count('cancelled')
flush()
return 1
