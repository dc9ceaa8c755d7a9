-- Shared by every script: the registry prepends the generated constants, then the
-- key names the script declares on its "-- KEYS:" line, bound from KEYS in that order
-- (READY is the four ready lists, critical .. low; undeclared names are nil), then
-- this file, then "_jobs.lua" for scripts that say "-- uses: jobs".
--
-- Generated from the Python definitions: BUCKETS, DEFAULTS, WAKE_MAX, and the name
-- tables F (job hash fields), STATE (job states), KIND (finish outcome kinds) and
-- HIST (histogram kinds). Each maps a readable name to what is stored (F.attempts is
-- 'a'): scripts never spell a stored letter, and reading a name a table lacks is an
-- error rather than a silent nil.
--
-- Key names: READY lists by priority, DELAYED zset, LEASES zset, DEAD zset, STATS
-- hash, CONFIG hash, WAKE list, WORKERS zset (id -> expiry ms), WINFO hash (id ->
-- "busy slots seen_ms"), EVENTS stream (lifecycle events).
-- ARGV[1]: the key prefix "q:{name}:"; a job hash is prefix .. "job:" .. id
-- Times are the Redis server's (TIME), in ms, so every client agrees.

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

-- A setting that is missing, not a number or out of range (NaN and inf included) means
-- its default, as in JobSettings.from_config: a hand-edited config must not, say, expire
-- every result at once, or never. MAXIMA comes from sluice.limits.
local function setting(value, default, minimum, maximum)
  local n = tonumber(value)
  if n == nil or n ~= n or n < minimum or n > maximum then return default end
  return n
end

local function config()
  local v = redis.call('HMGET', CONFIG, 'max_attempts', 'timeout_s', 'result_ttl_s',
    'dead_max', 'max_length')
  return {
    max_attempts = setting(v[1], DEFAULTS.max_attempts, 1, MAXIMA.max_attempts),
    timeout_s = setting(v[2], DEFAULTS.timeout_s, 0.001, MAXIMA.timeout_s),
    result_ttl_s = math.floor(setting(v[3], DEFAULTS.result_ttl_s, 1, MAXIMA.result_ttl_s)),
    dead_max = setting(v[4], DEFAULTS.dead_max, 1, MAXIMA.dead_max),
    max_length = setting(v[5], nil, 1, MAXIMA.max_length),
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

-- Lifecycle events, written by the script that makes the change, so a consumer never
-- sees a change without its event or the reverse. Each is appended at once (building a
-- table per event to write them later cost a third more); the stream is trimmed once per
-- script call, by trim_events(). Nothing is written when the queue's events are off.
-- emit(type, id, field, value, ...): the extra fields are the type's (see protocol.md).
local events_on, events_max, emitted = nil, nil, false
-- The queue's event settings as stored (a script that reads the config anyway passes
-- them here and saves emit() its own read).
local function events_config(on, max)
  if on then on = (on == 'True' or on == 'true' or on == '1') else on = DEFAULTS.events end
  events_on = on
  events_max = math.floor(setting(max, DEFAULTS.events_max, 100, MAXIMA.events_max))
end
local function emit(kind, id, ...)
  if events_on == nil then
    events_config(unpack(redis.call('HMGET', CONFIG, 'events', 'events_max')))
  end
  if events_on then
    redis.call('XADD', EVENTS, '*', 'type', kind, 'job', id, ...)
    emitted = true
  end
end

-- The last line of an error (a traceback's says most), bounded for the stream.
local function error_line(err)
  if not err or err == '' then return '' end
  return string.sub(string.match(err, '([^\n]*)\n*$') or '', 1, 200)
end

-- A job that ended wakes its waiters, if it has any (watch.lua marks them): the end
-- notice is a one-entry stream they block on with XREAD, which wakes every one of them.
-- It carries the outcome as the script just stored it (the result, or the error and
-- reason), so a woken waiter needs no further round trip. Call it after the job's hash
-- (and result) are written.
local function notify_end(id, key, state)
  local marker = PREFIX .. 'wt:' .. id
  if redis.call('EXISTS', marker) == 0 then return end
  local fields = {'state', state}
  if state == STATE.completed then
    local result = redis.call('GET', reskey(id))
    if result then fields[3], fields[4] = 'result', result end
  elseif state == STATE.dead then
    local err, reason = unpack(redis.call('HMGET', key, F.error, F.dead_reason))
    if err then fields[#fields + 1], fields[#fields + 2] = 'error', err end
    if reason then fields[#fields + 1], fields[#fields + 2] = 'reason', reason end
  end
  local notice = PREFIX .. 'dn:' .. id
  redis.call('XADD', notice, 'MAXLEN', 1, '*', unpack(fields))
  redis.call('PEXPIRE', notice, NOTICE_TTL_MS)
  redis.call('DEL', marker)
end

-- One trim per script call (MAXLEN ~: whole nodes only, so usually nothing to do).
local function trim_events()
  if emitted then redis.call('XTRIM', EVENTS, 'MAXLEN', '~', events_max) end
end

local woken = 0
local function flush()
  trim_events()
  for field, n in pairs(counts) do redis.call('HINCRBY', STATS, field, n) end
  for field, x in pairs(sums) do redis.call('HINCRBYFLOAT', STATS, field, x) end
  if woken > 0 then
    -- One token per claimable job, bounded: idle workers BLPOP the wake list. Push,
    -- and trim back to WAKE_MAX once it holds twice that: with no worker taking tokens
    -- (enqueueing ahead of the workers) that is one trim per WAKE_MAX pushes, not one
    -- per push.
    local tokens = {}
    for i = 1, math.min(woken, WAKE_MAX) do tokens[i] = '1' end
    if redis.call('RPUSH', WAKE, unpack(tokens)) > 2 * WAKE_MAX then
      redis.call('LTRIM', WAKE, 0, WAKE_MAX - 1)
    end
  end
end

local function make_delayed(id, key, due)
  redis.call('HSET', key, F.state, STATE.delayed, F.ready_since, due)
  redis.call('ZADD', DELAYED, due, id)
end
