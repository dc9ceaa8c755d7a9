-- extend: renew the leases a worker holds (its heartbeat).
-- KEYS: leases
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: lease ms; then pairs id, token
-- Returns {lost ids, cancelled ids}: lost = no longer this holder's (reaped, token
-- superseded, gone); cancelled = still held, but cancel was requested.
local lease = tonumber(ARGV[2])
local now = now_ms()
local lost, cancelled = {}, {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local held, cancel = unpack(redis.call('HMGET', jobkey(id), F.token, F.cancel))
  if held ~= token or not redis.call('ZSCORE', LEASES, id) then
    table.insert(lost, id)
  else
    redis.call('ZADD', LEASES, 'XX', now + lease, id)
    if cancel then table.insert(cancelled, id) end
  end
end
return {lost, cancelled}
