-- events: read the queue's lifecycle events after an id, and say whether events after
-- that id may have been trimmed before the reader got them (it fell behind the bound).
-- Read and check in one script, so no trim can slip between them.
-- KEYS: events
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: read after this id ('0-0': from the oldest kept, never a gap)
-- ARGV[3]: at most this many entries
-- Returns {missed (1/0), oldest kept id or '', entries as XRANGE gives them}
local since, limit = ARGV[2], tonumber(ARGV[3])

-- Stream ids "ms-seq" compared as numbers (ms fits a Lua number exactly).
local function older(a, b)
  local ams, aseq = string.match(a, '^(%d+)-?(%d*)$')
  local bms, bseq = string.match(b, '^(%d+)-?(%d*)$')
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then return ams < bms end
  return (tonumber(aseq) or 0) < (tonumber(bseq) or 0)
end

if redis.call('EXISTS', EVENTS) == 0 then return {0, '', {}} end
local oldest = redis.call('XRANGE', EVENTS, '-', '+', 'COUNT', 1)[1][1]
local missed = 0
-- Trimming takes the oldest first: a reader whose last event is older than the oldest
-- kept may have missed some (it is told so even in the rare case that only the events
-- it had already read were trimmed: never a silent gap).
if since ~= '0-0' and since ~= '0' and older(since, oldest) then missed = 1 end
return {missed, oldest, redis.call('XRANGE', EVENTS, '(' .. since, '+', 'COUNT', limit)}
