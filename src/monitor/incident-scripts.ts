/**
 * The Lua scripts of the monitor's incident store (incidents.ts), each one atomic check-and-write in Redis:
 * only the lease holder writes, and an incident changes exactly when its event is queued.
 */

// Values are written as the caller encoded them, never re-encoded by cjson (which turns [] into {}): the
// event's sequence number goes into a placeholder.
// KEYS: leader, incident, outbox, seq. ARGV: me, expected version (-1: none), incident JSON, event JSON.
export const TRANSITION = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'not-leader' end
local cur = redis.call('GET', KEYS[2])
local v = -1
if cur then v = cjson.decode(cur).version end
if v ~= tonumber(ARGV[2]) then return 'conflict' end
redis.call('SET', KEYS[2], ARGV[3])
local seq = redis.call('INCR', KEYS[4])
redis.call('RPUSH', KEYS[3], (string.gsub(ARGV[4], '"seq":0,', '"seq":' .. seq .. ',', 1)))
return 'ok'`;

// KEYS: leader, outbox, attempt, thread. ARGV: me, seq, thread ts ('' to leave it).
export const DELIVERED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'not-leader' end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head or cjson.decode(head).seq ~= tonumber(ARGV[2]) then return 'not-head' end
redis.call('LPOP', KEYS[2])
redis.call('DEL', KEYS[3])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', 2592000000)
else
  redis.call('PEXPIRE', KEYS[4], 2592000000)
end
return 'ok'`;

// KEYS: leader, attempt. ARGV: me, now (ms), lease margin (ms). Marks the head as being posted by me, if I
// lead with at least the margin left; answers the earlier mark ('' when none) or 'not-leader'.
export const ATTEMPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  return 'not-leader'
end
local prev = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], 'PX', 86400000)
return prev`;

// KEYS: leader. ARGV: me, lease ms. Renews one's own lease (1) or takes a free one (2); 0: another leads.
export const LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if cur then return 1 end
return 2`;
