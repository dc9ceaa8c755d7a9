-- requeue_dead: dead letters back to the back of their ready list, attempts reset.
-- KEYS: ready dead stats config wake events
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: max jobs; ARGV[3..]: ids (none: the oldest dead letters)
-- Returns the number requeued.
local limit = tonumber(ARGV[2])
local ids = {}
if #ARGV > 2 then
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGE', DEAD, 0, limit - 1)
end
local now = now_ms()
local n = 0
for _, id in ipairs(ids) do
  local key = jobkey(id)
  if redis.call('ZREM', DEAD, id) == 1 and redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, F.attempts, 0)
    redis.call('HDEL', key, F.dead_reason, F.error, F.finished, F.cancel, F.suspect)
    make_ready(id, key, false, now)
    emit('requeued', id)
    n = n + 1
  end
end
flush()
return n
