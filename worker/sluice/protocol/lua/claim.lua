-- claim: lease up to N jobs, highest priority first (strict), oldest first within one.
-- Reaps expired leases and promotes due delayed jobs first, so no separate
-- scheduler process is needed.
-- KEYS: ready delayed leases dead stats config wake events rate keyrun
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: worker id, ARGV[3]: max jobs, ARGV[4]: lease ms,
-- ARGV[5]: how many of them the worker starts at once (free slots): those are marked
--   started (F.run) and charged an attempt here; the rest it holds back (prefetch) and
--   marks through finish when it starts them,
-- ARGV[6]: 1 if the worker may take a suspect (it runs none), else 0
-- A suspect (F.suspect: a lease of it expired) is handed out only to start at once, and
-- at most one per claim; one this claim may not take stays where it was in line.
-- The queue's rate limit (config rate_limit per rate_period_s, GCRA: a period's worth may
-- start at once, then one per rate_period_s / rate_limit) bounds how many this claim
-- takes; when it takes none for that reason, next_due_ms is when the next may start. A
-- job whose concurrency key has key_concurrency leases already stays in line (its place
-- kept), and the claim looks up to LOOKAHEAD jobs further for others.
-- Returns {now_ms, next_due_ms or -1, suspects passed over, then 11 fields per job:
--   id, task, payload, attempt, max_attempts, timeout_ms, token, enqueued_ms, wait_ms,
--   1 if marked started here else 0, 1 if a suspect else 0}
local worker, want, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local start, suspect_ok = tonumber(ARGV[5]), ARGV[6] == '1'
local now = now_ms()
local cfg = config()
reap(now, cfg, 100)
local promoted = promote(now, 1000)

local out = {now, -1, 0}
local leased = {}
local handed = 0

local limit = redis.call('HMGET', CONFIG, 'rate_limit', 'rate_period_s', 'key_concurrency')
local rate = setting(limit[1], nil, 1, MAXIMA.rate_limit)
local per_key = setting(limit[3], nil, 1, MAXIMA.key_concurrency)
local interval, burst, tat, rate_next = 0, 0, now, nil
if rate then
  interval = setting(limit[2], 1, 0.001, MAXIMA.rate_period_s) * 1000 / rate
  burst = (rate - 1) * interval
  tat = math.max(tonumber(redis.call('GET', RATE)) or 0, now)
  local allowed = math.max(0, math.floor((now + burst - tat) / interval) + 1)
  if allowed < want then
    want = allowed
    rate_next = tat - burst + (allowed > 0 and allowed * interval or 0)
  end
end
local LOOKAHEAD = 100
local key_held = 0  -- jobs left in line because their concurrency key was full
local running = {}  -- concurrency key -> leases held, read once per key
local function key_full(ckey)
  if not per_key or not ckey then return false end
  running[ckey] = running[ckey] or tonumber(redis.call('HGET', KEYRUN, ckey)) or 0
  return running[ckey] >= per_key
end

local function hand_out(id, key, task, token, attempts, max_attempts, timeout_s, enqueued,
                        ready_since, suspect)
  token = (tonumber(token) or 0) + 1
  local attempt = (tonumber(attempts) or 0) + 1
  local run = handed < start
  if run then
    redis.call('HSET', key, F.state, STATE.active, F.attempts, attempt, F.run, token,
      F.started, now, F.worker, worker, F.token, token)
    emit('started', id, 'worker', worker, 'attempt', attempt)
  else
    redis.call('HSET', key, F.state, STATE.active, F.started, now, F.worker, worker,
      F.token, token)
  end
  local payload = redis.call('GET', paykey(id)) or ''
  local wait = math.max(0, now - tonumber(ready_since or enqueued))
  observe(HIST.wait, wait / 1000)
  local timeout_ms = math.floor((tonumber(timeout_s) or cfg.timeout_s) * 1000)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3] = id, task, payload
  out[n + 4], out[n + 5], out[n + 6] = attempt, tonumber(max_attempts) or cfg.max_attempts,
    timeout_ms
  out[n + 7], out[n + 8], out[n + 9] = token, tonumber(enqueued), wait
  out[n + 10], out[n + 11] = run and 1 or 0, suspect and 1 or 0
  table.insert(leased, now + lease)
  table.insert(leased, id)
  handed = handed + 1
end

for p = 1, 4 do
  if want <= 0 then break end
  local ids = redis.call('RPOP', READY[p], per_key and want + LOOKAHEAD or want)
  local passed = {}
  for _, id in ipairs(ids or {}) do
    local key = jobkey(id)
    local task, token, attempts, max_attempts, timeout_s, enqueued, ready_since, suspect, ckey =
      unpack(redis.call('HMGET', key, F.task, F.token, F.attempts, F.max_attempts, F.timeout,
        F.enqueued, F.ready_since, F.suspect, F.concurrency_key))
    if task and (want <= 0 or key_full(ckey)) then
      if want > 0 then key_held = key_held + 1 end
      table.insert(passed, 1, id)
    elseif task and suspect and not (suspect_ok and handed < start) then
      table.insert(passed, 1, id)
      out[3] = out[3] + 1  -- only suspects: a worker that cannot take one waits for a slot
    elseif task then
      if suspect then suspect_ok = false end
      hand_out(id, key, task, token, attempts, max_attempts, timeout_s, enqueued, ready_since,
        suspect)
      if per_key and ckey then
        running[ckey] = running[ckey] + 1
        redis.call('HINCRBY', KEYRUN, ckey, 1)
      end
      want = want - 1
    end
  end
  if #passed > 0 then
    -- Back to the front, in their order: they keep their place for the next claim.
    each_chunk(passed, 1000, function(...) redis.call('RPUSH', READY[p], ...) end)
  end
end

each_chunk(leased, 1000, function(...) redis.call('ZADD', LEASES, ...) end)
if rate and handed > 0 then
  tat = tat + handed * interval
  redis.call('SET', RATE, tat, 'PX', math.ceil(tat - now + burst + interval))
end
-- Wake tokens stand for claimable jobs: drop those this claim took, or all if none is left.
local left = 0
for p = 1, 4 do left = left + redis.call('LLEN', READY[p]) end
woken = 0
if left == 0 then
  redis.call('DEL', WAKE)
else
  redis.call('LTRIM', WAKE, #leased / 2, -1)
  woken = math.min(promoted, left)
end
local first = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
if first[2] then out[2] = tonumber(first[2]) end
if handed == 0 and key_held > 0 then
  -- Every job in reach waits for its key: workers sleep until a lease of a key ends (that
  -- script wakes one) instead of claiming in a loop.
  redis.call('DEL', WAKE)
  woken = 0
end
if rate_next and left > 0 then
  -- Held back by the rate limit: no wake tokens until the next start is allowed (a worker
  -- sleeps until next_due_ms instead of spinning on claims that take nothing).
  out[2] = out[2] >= 0 and math.min(out[2], rate_next) or rate_next
  redis.call('DEL', WAKE)
  woken = 0
end
flush()
return out
