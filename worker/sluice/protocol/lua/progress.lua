-- progress: a running job reports how far it got (token-fenced).
-- KEYS: leases config events (leases for routing: the job hash shares the hash tag)
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: job id, ARGV[3]: token, ARGV[4]: percent, ARGV[5]: message
-- Returns 1 recorded, 0 refused (lease lost).
local key = jobkey(ARGV[2])
local token, state = unpack(redis.call('HMGET', key, F.token, F.state))
if token ~= ARGV[3] or state ~= STATE.active then return 0 end
redis.call('HSET', key, F.progress, ARGV[4], F.progress_message, ARGV[5])
emit('progress', ARGV[2], 'progress', ARGV[4], 'message', ARGV[5])
trim_events()
return 1
