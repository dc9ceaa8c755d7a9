-- finish: record the outcome of leased jobs, fenced by the claim's token.
-- A worker whose lease was lost (reaped, job cancelled and reclaimed) is refused.
-- KEYS: ready delayed leases dead stats config wake
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: JSON array, one entry per outcome:
--   [id, token, kind, delay_ms, service_s, reason, error, result_ref]
--   kind: 'd' done, 'r' retry (dead-letters once attempts are used), 'f' fail
--   (dead-letter now), 'l' release (back to the front, no attempt charged)
--   result_ref: 0 = no result, else the result is ARGV[2 + result_ref]
-- A job whose cancel was requested ends 'cancelled' whatever the kind; its result is dropped.
-- Returns one 1 (accepted) or 0 (refused) per outcome.
local outcomes = cjson.decode(ARGV[2])
local now = now_ms()
local cfg = config()
local out = {}

local function retry(id, key, v, err, reason, delay_ms)
  count('failed')
  if err ~= '' then redis.call('HSET', key, 'x', err) end
  if (tonumber(v[3]) or 0) >= (tonumber(v[4]) or cfg.max_attempts) then
    make_dead(id, key, reason ~= '' and reason or 'max_attempts', err, now, cfg)
  elseif delay_ms > 0 then
    make_delayed(id, key, now + delay_ms)
    count('retried')
  else
    make_ready(id, key, false, now)
    count('retried')
  end
end

local function settle(id, key, v, o)
  local kind, reason, err = o[3], o[6], o[7]
  if v[2] then
    make_finished(id, key, 'x', now, cfg)
    count('cancelled')
  elseif kind == 'd' then
    if o[8] > 0 then
      redis.call('SET', reskey(id), ARGV[2 + o[8]], 'EX', cfg.result_ttl_s)
    end
    make_finished(id, key, 'c', now, cfg)
    count('completed')
  elseif kind == 'l' then
    redis.call('HINCRBY', key, 'a', -1)
    make_ready(id, key, true, now)
  elseif kind == 'f' then
    count('failed')
    make_dead(id, key, reason ~= '' and reason or 'failed', err, now, cfg)
  else
    retry(id, key, v, err, reason, o[4])
  end
end

for i, o in ipairs(outcomes) do
  local id = o[1]
  local key = jobkey(id)
  local v = redis.call('HMGET', key, 'k', 'c', 'a', 'm')
  if v[1] ~= o[2] or redis.call('ZREM', LEASES, id) == 0 then
    out[i] = 0
  else
    if o[3] ~= 'l' then observe('s', o[5]) end
    settle(id, key, v, o)
    out[i] = 1
  end
end
flush()
return out
