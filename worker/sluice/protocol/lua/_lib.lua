-- Shared by every script: the registry prepends the generated constants
-- (BUCKETS, DEFAULTS, WAKE_MAX) and this file to each script.
--
-- KEYS (every script, QueueKeys.script_keys() order):
--   1-4 ready lists by priority (0 critical .. 3 low), 5 delayed zset,
--   6 leases zset, 7 dead zset, 8 stats hash, 9 config hash, 10 wake list,
--   11 workers zset (id -> expiry ms), 12 worker info hash (id -> "busy slots seen_ms")
-- ARGV[1]: the key prefix "q:{name}:"; a job hash is prefix .. "job:" .. id
-- Times are the Redis server's (TIME), in ms, so every client agrees.

local READY = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local DELAYED, LEASES, DEAD, STATS, CONFIG = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local WAKE, WORKERS, WINFO = KEYS[10], KEYS[11], KEYS[12]
local PREFIX = ARGV[1]

local function jobkey(id)
  return PREFIX .. 'job:' .. id
end

-- Payloads live apart from the job hash: a value over hash-max-ziplist-value (64 bytes
-- by default) would turn the whole hash into a hashtable, several times its size.
local function paykey(id)
  return PREFIX .. 'p:' .. id
end

-- Results likewise, expiring with the finished job.
local function reskey(id)
  return PREFIX .. 'r:' .. id
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A setting that is missing, not a number or out of range means its default, as in
-- JobSettings.from_config: a hand-edited config must not, say, expire every result at once.
local function setting(value, default, minimum)
  local n = tonumber(value)
  if n == nil or n < minimum then return default end
  return n
end

local function config()
  local v = redis.call('HMGET', CONFIG, 'max_attempts', 'timeout_s', 'result_ttl_s',
    'dead_max', 'max_length')
  return {
    max_attempts = setting(v[1], DEFAULTS.max_attempts, 1),
    timeout_s = setting(v[2], DEFAULTS.timeout_s, 0.001),
    result_ttl_s = math.floor(setting(v[3], DEFAULTS.result_ttl_s, 1)),
    dead_max = setting(v[4], DEFAULTS.dead_max, 1),
    max_length = setting(v[5], nil, 1),
  }
end

-- Calls taking many arguments go in chunks: unpack() is bounded by the Lua stack.
local function each_chunk(items, size, fn)
  for i = 1, #items, size do
    fn(unpack(items, i, math.min(i + size - 1, #items)))
  end
end

-- Counter and histogram updates are summed here and written once per script call.
local counts, sums = {}, {}
local function count(field, n)
  counts[field] = (counts[field] or 0) + (n or 1)
end

local function bucket(seconds)
  for i, bound in ipairs(BUCKETS) do
    if seconds <= bound then return i - 1 end
  end
  return #BUCKETS - 1
end

-- kind: 's' service time, 'w' wait time
local function observe(kind, seconds)
  count(kind .. ':' .. bucket(seconds))
  sums[kind .. ':sum'] = (sums[kind .. ':sum'] or 0) + seconds
end

local woken = 0
local function flush()
  for field, n in pairs(counts) do redis.call('HINCRBY', STATS, field, n) end
  for field, x in pairs(sums) do redis.call('HINCRBYFLOAT', STATS, field, x) end
  if woken > 0 then
    -- One token per claimable job, bounded: idle workers BLPOP the wake list.
    local room = WAKE_MAX - redis.call('LLEN', WAKE)
    local tokens = {}
    for i = 1, math.min(woken, room) do tokens[i] = '1' end
    if #tokens > 0 then redis.call('RPUSH', WAKE, unpack(tokens)) end
  end
end

-- Put a job in its ready list: at the front (next to run) or the back.
-- since: the ms it became claimable (nil keeps the stored one).
local function make_ready(id, key, front, since)
  local pr = tonumber(redis.call('HGET', key, 'q')) or 2
  if since then
    redis.call('HSET', key, 's', 'w', 'u', since)
  else
    redis.call('HSET', key, 's', 'w')
  end
  if front then
    redis.call('RPUSH', READY[pr + 1], id)
  else
    redis.call('LPUSH', READY[pr + 1], id)
  end
  woken = woken + 1
end

local function make_delayed(id, key, due)
  redis.call('HSET', key, 's', 'd', 'u', due)
  redis.call('ZADD', DELAYED, due, id)
end

-- Completed or cancelled: the payload goes, the hash expires after the result TTL.
local function make_finished(id, key, state, now, cfg)
  redis.call('HSET', key, 's', state, 'f', now)
  redis.call('DEL', paykey(id))
  redis.call('EXPIRE', key, cfg.result_ttl_s)
end

-- Dead letters keep payload, reason and last error; the oldest beyond dead_max are dropped.
local function make_dead(id, key, reason, err, now, cfg)
  redis.call('HSET', key, 's', 'f', 'f', now, 'y', reason)
  if err and err ~= '' then redis.call('HSET', key, 'x', err) end
  redis.call('ZADD', DEAD, now, id)
  count('dead_lettered')
  local extra = redis.call('ZCARD', DEAD) - cfg.dead_max
  if extra > 0 then
    local old = redis.call('ZPOPMIN', DEAD, extra)
    for i = 1, #old, 2 do redis.call('DEL', jobkey(old[i]), paykey(old[i])) end
    count('dead_trimmed', extra)
  end
end

-- Expired leases: the worker died or stalled. Back to the front of the line, or
-- dead-lettered once the job has used its attempts (a poison job that kills workers).
local function reap(now, cfg, limit)
  local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    redis.call('ZREM', LEASES, id)
    local key = jobkey(id)
    local v = redis.call('HMGET', key, 's', 'a', 'm', 'c')
    if v[1] == 'a' then
      if v[4] then
        make_finished(id, key, 'x', now, cfg)
        count('cancelled')
      elseif (tonumber(v[2]) or 0) >= (tonumber(v[3]) or cfg.max_attempts) then
        make_dead(id, key, 'lease_expired', 'lease expired: the worker stopped or stalled', now, cfg)
      else
        make_ready(id, key, true, now)
        count('retried')
      end
    end
  end
  return #ids
end

-- Due delayed jobs join the back of their ready list (their wait started at the due time).
local function promote(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, limit)
  if #ids == 0 then return 0 end
  each_chunk(ids, 1000, function(...) redis.call('ZREM', DELAYED, ...) end)
  for _, id in ipairs(ids) do
    local key = jobkey(id)
    if redis.call('EXISTS', key) == 1 then make_ready(id, key, false, nil) end
  end
  return #ids
end
