-- Adding jobs, shared by the scripts that say "-- uses: enqueue" (enqueue, fire).
-- ARGV[base]: number of jobs n; then 7 fields per job:
--   id, task, payload, priority (0-3), delay_ms, max_attempts ('' = queue default),
--   timeout_s ('' = queue default)
-- wanted(i), when given, picks the jobs (0-based) to add; the others are left out.
-- An id that already exists is left alone (idempotent).
-- Returns {1, added} or, when max_length would be exceeded, {0, waiting, max_length}
-- and adds nothing.
local function enqueue_batch(base, wanted)
  local n = tonumber(ARGV[base])
  local function job(i) return base + 1 + i * 7 end
  local function picked(i) return wanted == nil or wanted(i) end
  -- Only the length limit matters here: one field, not the whole config().
  local max_length = setting(redis.call('HGET', CONFIG, 'max_length'), nil, 1, MAXIMA.max_length)

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
      if delay > 0 then
        redis.call('HSET', key, unpack(fields))
        make_delayed(id, key, now + delay)
        emit('enqueued', id, 'task', ARGV[o + 1], 'delay_ms', delay)
      else
        table.insert(fields, F.state); table.insert(fields, STATE.waiting)
        redis.call('HSET', key, unpack(fields))
        table.insert(ready[pr + 1], id)
        emit('enqueued', id, 'task', ARGV[o + 1])
      end
      redis.call('SET', paykey(id), ARGV[o + 2])
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
