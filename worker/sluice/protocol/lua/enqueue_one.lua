-- enqueue_one: add one job that is claimable now (no delay, no parents): what most
-- single enqueues are, in the fewest server steps. Its effects are enqueue.lua's for
-- such a job (idempotent by id, the queue's length limit, the 'enqueued' event, the
-- counter, a wake-up token); without the batch loop and the code for delays and parents.
-- KEYS: ready delayed stats config wake events
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: id, ARGV[3]: task, ARGV[4]: payload, ARGV[5]: priority (0-3),
-- ARGV[6]: max_attempts ('' = queue default), ARGV[7]: timeout_s ('' = queue default)
-- Returns {1, added (0 or 1)}, or adds nothing and returns {0, waiting, max_length} when
-- the queue holds max_length waiting jobs already.
local id, task, pr = ARGV[2], ARGV[3], tonumber(ARGV[5])
local key = jobkey(id)

-- The config is read once: the length limit and the event settings emit() needs.
local limit, on, max = unpack(redis.call('HMGET', CONFIG, 'max_length', 'events', 'events_max'))
events_config(on, max)
local max_length = setting(limit, nil, 1, MAXIMA.max_length)
if max_length then
  if redis.call('EXISTS', key) == 1 then return {1, 0} end
  local waiting = redis.call('ZCARD', DELAYED)
  for p = 1, 4 do waiting = waiting + redis.call('LLEN', READY[p]) end
  if waiting + 1 > max_length then return {0, waiting, max_length} end
end

-- Every job hash has a task: HSETNX both tests for the id and starts the new hash.
if redis.call('HSETNX', key, F.task, task) == 0 then return {1, 0} end
local fields = {F.priority, pr, F.enqueued, now_ms(), F.state, STATE.waiting}
if ARGV[6] ~= '' then fields[#fields + 1] = F.max_attempts; fields[#fields + 1] = ARGV[6] end
if ARGV[7] ~= '' then fields[#fields + 1] = F.timeout; fields[#fields + 1] = ARGV[7] end
redis.call('HSET', key, unpack(fields))
redis.call('SET', paykey(id), ARGV[4])
redis.call('LPUSH', READY[pr + 1], id)
emit('enqueued', id, 'task', task)
count('enqueued')
woken = 1
flush()
return {1, 1}
