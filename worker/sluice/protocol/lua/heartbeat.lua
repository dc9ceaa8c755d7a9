-- heartbeat: a worker announces itself (busy and total slots) until ttl; ttl <= 0
-- removes it (clean exit). Expired workers are swept here.
-- KEYS: workers winfo
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: worker id, ARGV[3]: busy slots, ARGV[4]: slots, ARGV[5]: ttl ms
-- Returns the server time (ms).
local worker, ttl = ARGV[2], tonumber(ARGV[5])
local now = now_ms()
if ttl > 0 then
  redis.call('ZADD', WORKERS, now + ttl, worker)
  redis.call('HSET', WINFO, worker, ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. now)
else
  redis.call('ZREM', WORKERS, worker)
  redis.call('HDEL', WINFO, worker)
end
local gone = redis.call('ZRANGEBYSCORE', WORKERS, '-inf', now)
if #gone > 0 then
  each_chunk(gone, 1000, function(...) redis.call('HDEL', WINFO, ...) end)
  redis.call('ZREMRANGEBYSCORE', WORKERS, '-inf', now)
end
return now
