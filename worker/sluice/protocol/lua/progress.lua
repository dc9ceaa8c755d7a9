-- progress: a running job reports how far it got (token-fenced).
-- KEYS: leases (for routing only: the job hash shares the queue's hash tag)
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: job id, ARGV[3]: token, ARGV[4]: percent, ARGV[5]: message
-- Returns 1 recorded, 0 refused (lease lost).
local key = jobkey(ARGV[2])
local v = redis.call('HMGET', key, 'k', 's')
if v[1] ~= ARGV[3] or v[2] ~= 'a' then return 0 end
redis.call('HSET', key, 'g', ARGV[4], 'h', ARGV[5])
return 1
