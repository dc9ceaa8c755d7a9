-- purge_dead: delete the oldest dead letters.
-- KEYS: dead
-- ARGV[1]: the key prefix (see _lib.lua)
-- ARGV[2]: max jobs
-- Returns the number deleted (call again until 0).
local ids = redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[2]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', jobkey(id), paykey(id)) end
each_chunk(ids, 1000, function(...) redis.call('ZREM', DEAD, ...) end)
return #ids
