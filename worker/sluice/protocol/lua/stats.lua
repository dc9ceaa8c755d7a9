-- stats: everything the autoscaler reads, in one round trip; writes nothing.
-- KEYS: ready delayed leases dead stats workers winfo
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: a horizon in ms (optional, default 0): delayed jobs due after now and within it
--   are counted apart, so the autoscaler can start workers before they fall due
-- Returns {now_ms, {ready per priority 0..3}, delayed_due, delayed_total, in_flight,
--   dead, oldest_since_ms or -1, {stats hash as field, value, ...},
--   {live worker ids}, {their "busy slots seen_ms"}, delayed_soon}
local now = now_ms()
local horizon = math.max(0, tonumber(ARGV[2]) or 0)
local ready, oldest = {}, nil

local function older(since)
  if since and (not oldest or since < oldest) then oldest = since end
end

for p = 1, 4 do
  ready[p] = redis.call('LLEN', READY[p])
  local head = redis.call('LINDEX', READY[p], -1)
  if head then
    local ready_since, enqueued = unpack(redis.call('HMGET', jobkey(head), F.ready_since,
      F.enqueued))
    older(tonumber(ready_since or enqueued))
  end
end
local first = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
if first[2] and tonumber(first[2]) <= now then older(tonumber(first[2])) end

local workers = redis.call('ZRANGEBYSCORE', WORKERS, '(' .. now, '+inf')
local info = {}
if #workers > 0 then info = redis.call('HMGET', WINFO, unpack(workers)) end
return {
  now, ready,
  redis.call('ZCOUNT', DELAYED, '-inf', now), redis.call('ZCARD', DELAYED),
  redis.call('ZCARD', LEASES), redis.call('ZCARD', DEAD),
  oldest or -1, redis.call('HGETALL', STATS), workers, info,
  horizon > 0 and redis.call('ZCOUNT', DELAYED, '(' .. now, now + horizon) or 0,
}
