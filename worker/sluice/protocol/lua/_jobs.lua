-- Job lifecycle steps shared by the scripts that say "-- uses: jobs" (after _lib.lua).

local function bucket(seconds)
  for i, bound in ipairs(BUCKETS) do
    if seconds <= bound then return i - 1 end
  end
  return #BUCKETS - 1
end

-- kind: HIST.service or HIST.wait
local function observe(kind, seconds)
  count(kind .. ':' .. bucket(seconds))
  sums[kind .. ':sum'] = (sums[kind .. ':sum'] or 0) + seconds
end

-- A lease ended (finished, handed back, expired): its concurrency key has a slot free,
-- and a job of that key may be waiting: wake a worker for it.
local function lease_gone(ckey)
  if not ckey then return end
  if redis.call('HINCRBY', KEYRUN, ckey, -1) <= 0 then redis.call('HDEL', KEYRUN, ckey) end
  woken = woken + 1
end

-- Put a job in its ready list: at the front (next to run) or the back.
-- since: the ms it became claimable (nil keeps the stored one).
local function make_ready(id, key, front, since)
  local pr = tonumber(redis.call('HGET', key, F.priority)) or 2
  if since then
    redis.call('HSET', key, F.state, STATE.waiting, F.ready_since, since)
  else
    redis.call('HSET', key, F.state, STATE.waiting)
  end
  if front then
    redis.call('RPUSH', READY[pr + 1], id)
  else
    redis.call('LPUSH', READY[pr + 1], id)
  end
  woken = woken + 1
end

-- Dependencies (enqueue after=): a parent that ends settles its blocked children. Completed,
-- it counts down each child's pending parents and releases those at zero (to the delayed
-- set while their due time is ahead); dead-lettered or cancelled, it dead-letters them
-- (dependency_failed), and theirs in turn, unless a child said run_anyway (then it counts
-- as done). The cascade runs from a work list, not by recursion.
local failed_children = {}  -- {id, key, parent} still to dead-letter
local cascading = false

local function release(id, key, now)
  count('unblocked')
  local due = tonumber(redis.call('HGET', key, F.ready_since)) or now
  if due > now then make_delayed(id, key, due) else make_ready(id, key, false, now) end
  emit('unblocked', id)
end

local function settle_children(key, parent, ok, now)
  local children = redis.call('HGET', key, F.children)
  if not children then return end
  for cid in string.gmatch(children, '%S+') do
    local ckey = jobkey(cid)
    local state, anyway = unpack(redis.call('HMGET', ckey, F.state, F.run_anyway))
    if state == STATE.blocked then
      if ok or anyway then
        if redis.call('HINCRBY', ckey, F.pending, -1) <= 0 then release(cid, ckey, now) end
      else
        failed_children[#failed_children + 1] = {cid, ckey, parent}
      end
    end
  end
end

-- Dead letters keep payload, reason and last error; the oldest beyond dead_max are dropped.
local function make_dead(id, key, reason, err, now, cfg)
  emit('dead_lettered', id, 'reason', reason, 'error', error_line(err))
  redis.call('HSET', key, F.state, STATE.dead, F.finished, now, F.dead_reason, reason)
  if err and err ~= '' then redis.call('HSET', key, F.error, err) end
  notify_end(id, key, STATE.dead)
  redis.call('ZADD', DEAD, now, id)
  count('dead_lettered')
  local extra = redis.call('ZCARD', DEAD) - cfg.dead_max
  if extra > 0 then
    local old = redis.call('ZPOPMIN', DEAD, extra)
    for i = 1, #old, 2 do redis.call('DEL', jobkey(old[i]), paykey(old[i])) end
    count('dead_trimmed', extra)
  end
  settle_children(key, id, false, now)
  if cascading then return end
  cascading = true
  while #failed_children > 0 do
    local c = table.remove(failed_children)
    if redis.call('HGET', c[2], F.state) == STATE.blocked then
      count('unblocked')
      make_dead(c[1], c[2], 'dependency_failed', 'parent ' .. c[3] .. ' did not complete',
        now, cfg)
    end
  end
  cascading = false
end

-- Completed or cancelled: the payload goes, the hash expires after the result TTL.
local function make_finished(id, key, state, now, cfg)
  emit(state == STATE.completed and 'completed' or 'cancelled', id)
  redis.call('HSET', key, F.state, state, F.finished, now)
  redis.call('DEL', paykey(id))
  redis.call('EXPIRE', key, cfg.result_ttl_s)
  notify_end(id, key, state)
  settle_children(key, id, state == STATE.completed, now)
  local first = table.remove(failed_children)  -- cancelled: the cascade as for a dead parent
  if first and redis.call('HGET', first[2], F.state) == STATE.blocked then
    count('unblocked')
    make_dead(first[1], first[2], 'dependency_failed', 'parent ' .. id .. ' was cancelled',
      now, cfg)
  end
end

-- Expired leases: the worker died or stalled. Every such job becomes a suspect and goes
-- back to the front of the line. Only a started one (marked: F.run is its claim's token)
-- was running, so only it has used an attempt ('retried' counts its re-run), and once it
-- has used them all it is dead-lettered (a poison job that kills workers). One the worker
-- held but had not started loses nothing.
local function reap(now, cfg, limit)
  local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    redis.call('ZREM', LEASES, id)
    local key = jobkey(id)
    local state, attempts, max_attempts, cancel, worker, token, run, ckey = unpack(redis.call(
      'HMGET', key, F.state, F.attempts, F.max_attempts, F.cancel, F.worker, F.token, F.run,
      F.concurrency_key))
    lease_gone(ckey)
    if state == STATE.active then
      emit('lease_expired', id, 'worker', worker or '', 'attempt', attempts or 0)
      local started = run and run == token
      if cancel then
        make_finished(id, key, STATE.cancelled, now, cfg)
        count('cancelled')
      elseif started and
          (tonumber(attempts) or 0) >= (tonumber(max_attempts) or cfg.max_attempts) then
        make_dead(id, key, 'lease_expired', 'lease expired: the worker stopped or stalled', now, cfg)
      else
        redis.call('HSET', key, F.suspect, 1)
        make_ready(id, key, true, now)
        if started then
          emit('retried', id, 'attempt', attempts or 0, 'delay_ms', 0, 'error', 'lease expired')
          count('retried')
        else
          emit('released', id)
          count('returned')
        end
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
