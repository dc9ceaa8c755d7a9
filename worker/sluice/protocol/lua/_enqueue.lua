-- Adding jobs, shared by the scripts that say "-- uses: enqueue" (enqueue, fire).
-- ARGV[base]: number of jobs n; then 10 fields per job:
--   id, task, payload, priority (0-3), delay_ms, max_attempts ('' = queue default),
--   timeout_s ('' = queue default), after (parent ids, space-separated, '' = none),
--   run_anyway ('1': run when a parent is dead-lettered or cancelled, '' = dead-letter it),
--   concurrency_key ('' = none)
-- wanted(i), when given, picks the jobs (0-based) to add; the others are left out.
-- An id that already exists is left alone (idempotent).
-- Returns {1, added}; or, adding nothing: {0, waiting, max_length} when max_length would
-- be exceeded, {2, id, parent} when a job names a parent the queue does not hold (a parent
-- earlier in the same batch counts: it is added first, so no cycle can form).
local FIELDS = 10

-- A child of parents: blocked until each has completed. A parent already completed counts
-- as done; one dead-lettered or cancelled fails the child at once (unless run_anyway).
-- Returns the parents still pending, and the first failed parent (or nil).
local function link_parents(id, after, run_anyway)
  local pending, failed = 0, nil
  for parent in string.gmatch(after, '%S+') do
    local pkey = jobkey(parent)
    local state, children = unpack(redis.call('HMGET', pkey, F.state, F.children))
    if state == STATE.completed then
      -- done already
    elseif (state == STATE.dead or state == STATE.cancelled) and not run_anyway then
      failed = failed or parent
    elseif state ~= STATE.dead and state ~= STATE.cancelled then
      pending = pending + 1
      redis.call('HSET', pkey, F.children, children and (children .. ' ' .. id) or id)
    end
  end
  return pending, failed
end

-- Born dead: a parent had already failed. Trimming the dead-letter queue is left to the
-- next dead-lettering (enqueue stays free of the lifecycle code).
local function dead_at_birth(id, key, parent, now)
  redis.call('HSET', key, F.state, STATE.dead, F.finished, now,
    F.dead_reason, 'dependency_failed', F.error, 'parent ' .. parent .. ' did not complete')
  redis.call('ZADD', DEAD, now, id)
  count('dead_lettered')
  emit('dead_lettered', id, 'reason', 'dependency_failed')
end

local function enqueue_batch(base, wanted)
  local n = tonumber(ARGV[base])
  local function job(i) return base + 1 + i * FIELDS end
  local function picked(i) return wanted == nil or wanted(i) end
  -- Only the length limit matters here: one field, not the whole config().
  local max_length = setting(redis.call('HGET', CONFIG, 'max_length'), nil, 1, MAXIMA.max_length)

  local with_parents = false
  for i = 0, n - 1 do
    if picked(i) and ARGV[job(i) + 7] ~= '' then with_parents = true end
  end
  if with_parents then
    local earlier = {}
    for i = 0, n - 1 do
      if picked(i) then
        local o = job(i)
        for parent in string.gmatch(ARGV[o + 7], '%S+') do
          if not earlier[parent] and redis.call('EXISTS', jobkey(parent)) == 0 then
            return {2, ARGV[o], parent}
          end
        end
        earlier[ARGV[o]] = true
      end
    end
  end

  if max_length then
    local new = 0
    for i = 0, n - 1 do
      if picked(i) and redis.call('EXISTS', jobkey(ARGV[job(i)])) == 0 then new = new + 1 end
    end
    local waiting = redis.call('ZCARD', DELAYED)
    for p = 1, 4 do waiting = waiting + redis.call('LLEN', READY[p]) end
    if new > 0 and waiting + new > max_length then return {0, waiting, max_length} end
  end

  local now = now_ms()
  local added = 0
  local ready = {{}, {}, {}, {}}
  for i = 0, n - 1 do
    local o = job(i)
    local id = ARGV[o]
    local key = jobkey(id)
    -- Every job hash has a task: HSETNX both tests for the id and starts the new hash.
    if picked(i) and redis.call('HSETNX', key, F.task, ARGV[o + 1]) == 1 then
      local pr, delay = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
      local fields = {F.priority, pr, F.enqueued, now}
      if ARGV[o + 5] ~= '' then
        table.insert(fields, F.max_attempts); table.insert(fields, ARGV[o + 5])
      end
      if ARGV[o + 6] ~= '' then
        table.insert(fields, F.timeout); table.insert(fields, ARGV[o + 6])
      end
      if ARGV[o + 9] ~= '' then
        table.insert(fields, F.concurrency_key); table.insert(fields, ARGV[o + 9])
      end
      local pending, failed = 0, nil
      if ARGV[o + 7] ~= '' then
        local anyway = ARGV[o + 8] == '1'
        table.insert(fields, F.parents); table.insert(fields, ARGV[o + 7])
        if anyway then table.insert(fields, F.run_anyway); table.insert(fields, 1) end
        pending, failed = link_parents(id, ARGV[o + 7], anyway)
      end
      redis.call('SET', paykey(id), ARGV[o + 2])
      if failed then
        redis.call('HSET', key, unpack(fields))
        emit('enqueued', id, 'task', ARGV[o + 1])
        dead_at_birth(id, key, failed, now)
      elseif pending > 0 then
        -- Blocked: in no list; the due time waits in ready_since until the parents are done.
        table.insert(fields, F.state); table.insert(fields, STATE.blocked)
        table.insert(fields, F.pending); table.insert(fields, pending)
        table.insert(fields, F.ready_since); table.insert(fields, now + delay)
        redis.call('HSET', key, unpack(fields))
        count('blocked')
        emit('enqueued', id, 'task', ARGV[o + 1], 'blocked_on', pending)
      elseif delay > 0 then
        redis.call('HSET', key, unpack(fields))
        make_delayed(id, key, now + delay)
        emit('enqueued', id, 'task', ARGV[o + 1], 'delay_ms', delay)
      else
        table.insert(fields, F.state); table.insert(fields, STATE.waiting)
        redis.call('HSET', key, unpack(fields))
        table.insert(ready[pr + 1], id)
        emit('enqueued', id, 'task', ARGV[o + 1])
      end
      added = added + 1
    end
  end

  for p = 1, 4 do
    each_chunk(ready[p], 1000, function(...) redis.call('LPUSH', READY[p], ...) end)
    woken = woken + #ready[p]
  end
  -- A delayed job wakes one idle worker too: its claim learns the due time and it sleeps
  -- until then instead of until its poll timeout.
  if woken == 0 and added > 0 then woken = 1 end
  count('enqueued', added)
  flush()
  return {1, added}
end
