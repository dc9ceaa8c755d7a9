-- fire: enqueue a cron schedule's fires that are later than its recorded last fire, and
-- record the new last fire, in one step: a second reconciler firing the same schedule
-- finds the fire recorded and adds nothing.
-- KEYS: ready delayed dead stats config wake sched events
-- uses: enqueue
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: the schedule's name; ARGV[3]: its new last fire (ms): the newest fire sent, or
--   a time with no fire (a first sight, or missed fires skipped)
-- ARGV[4]: number of fires n; then 9 fields per job (see _enqueue.lua); then the n fire
--   times (ms)
-- Returns as enqueue; the last fire is recorded only when the jobs went in.
local name, mark = ARGV[2], tonumber(ARGV[3])
local last = tonumber(redis.call('ZSCORE', SCHED, name))
if last and last >= mark then return {1, 0} end
local times = 4 + 1 + tonumber(ARGV[4]) * FIELDS
local reply = enqueue_batch(4, function(i)
  return last == nil or tonumber(ARGV[times + i]) > last
end)
-- GT: a slower reconciler never moves the record back.
if reply[1] == 1 then redis.call('ZADD', SCHED, 'GT', mark, name) end
return reply
