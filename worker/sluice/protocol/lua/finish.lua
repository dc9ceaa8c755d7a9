-- finish: record what became of leased jobs, fenced by the claim's token: the jobs a
-- worker started that it had held back (the started marker, see claim.lua) and the
-- outcomes of attempts. A worker whose lease was lost (reaped, job cancelled and
-- reclaimed) is refused.
-- KEYS: ready delayed leases dead stats config wake events keyrun
-- uses: jobs
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: JSON array, one entry per start or outcome, in the order they happened:
--   [id, token, KIND.start]: the attempt has begun; it is charged now (idempotent)
--   [id, token, kind, delay_ms, service_s, reason, error, result_ref, begun]
--   kind: KIND.done, KIND.retry (dead-letters once attempts are used), KIND.fail
--   (dead-letter now), KIND.release (back to the front, its attempt not charged)
--   result_ref: 0 = no result, else the result is ARGV[2 + result_ref]
--   begun: 1 = the job's start entry rides on its outcome (it was held back, and both
--   happened since the last call): the attempt is charged here
-- A job whose cancel was requested ends 'cancelled' whatever the kind; its result is dropped.
-- Returns one 1 (accepted) or 0 (refused) per entry.
local outcomes = cjson.decode(ARGV[2])
local now = now_ms()
local cfg = config()
local out = {}

local function retry(id, key, attempts, max_attempts, err, reason, delay_ms)
  count('failed')
  if err ~= '' then redis.call('HSET', key, F.error, err) end
  if (tonumber(attempts) or 0) >= (tonumber(max_attempts) or cfg.max_attempts) then
    make_dead(id, key, reason ~= '' and reason or 'max_attempts', err, now, cfg)
  else
    if delay_ms > 0 then
      make_delayed(id, key, now + delay_ms)
    else
      make_ready(id, key, false, now)
    end
    emit('retried', id, 'attempt', tonumber(attempts) or 0, 'delay_ms', delay_ms,
      'error', error_line(err))
    count('retried')
  end
end

-- Mark a held-back job started: from now on its lease expiring charges it an attempt.
local function started(id, key, token)
  local held, state, run, attempts, worker =
    unpack(redis.call('HMGET', key, F.token, F.state, F.run, F.attempts, F.worker))
  if held ~= token or state ~= STATE.active then return 0 end
  if run ~= token then  -- a resent call marks once
    local attempt = (tonumber(attempts) or 0) + 1
    redis.call('HSET', key, F.attempts, attempt, F.run, token)
    emit('started', id, 'worker', worker, 'attempt', attempt)
  end
  return 1
end

-- Record one attempt's outcome; 1 accepted, 0 refused (not this holder's lease).
local function settle(id, key, token, kind, delay_ms, service_s, reason, err, result_ref,
                      begun)
  local held, cancel, attempts, max_attempts, run, worker, ckey = unpack(redis.call('HMGET',
    key, F.token, F.cancel, F.attempts, F.max_attempts, F.run, F.worker, F.concurrency_key))
  if held ~= token or redis.call('ZREM', LEASES, id) == 0 then return 0 end
  lease_gone(ckey)
  if begun == 1 and run ~= token then  -- as started() would, but the lease ends here
    attempts = (tonumber(attempts) or 0) + 1
    emit('started', id, 'worker', worker, 'attempt', attempts)
    -- A release hands the attempt back: then there is nothing to write.
    if kind ~= KIND.release then redis.call('HSET', key, F.attempts, attempts) end
  end
  if kind ~= KIND.release then observe(HIST.service, service_s) end
  if cancel then
    make_finished(id, key, STATE.cancelled, now, cfg)
    count('cancelled')
  elseif kind == KIND.done then
    if result_ref > 0 then
      redis.call('SET', reskey(id), ARGV[2 + result_ref], 'EX', cfg.result_ttl_s)
    end
    make_finished(id, key, STATE.completed, now, cfg)
    count('completed')
  elseif kind == KIND.release then
    if run == token then redis.call('HINCRBY', key, F.attempts, -1) end
    make_ready(id, key, true, now)
    emit('released', id)
  elseif kind == KIND.fail then
    count('failed')
    make_dead(id, key, reason ~= '' and reason or 'failed', err, now, cfg)
  else
    retry(id, key, attempts, max_attempts, err, reason, delay_ms)
  end
  return 1
end

for i, o in ipairs(outcomes) do
  local id, token, kind, delay_ms, service_s, reason, err, result_ref, begun = unpack(o)
  local key = jobkey(id)
  if kind == KIND.start then
    out[i] = started(id, key, token)
  else
    out[i] = settle(id, key, token, kind, delay_ms, service_s, reason, err, result_ref, begun)
  end
end
flush()
return out
