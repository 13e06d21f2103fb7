package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts below run atomically in Redis. Every one takes the keys
// stream, meta and ids (see the package comment) in that order.
//
// An entry's fields are always written in this order, which the scripts rely
// on to read t and n by position:
//
//	i   instance id the entry was appended under
//	t   Time, microseconds since the Unix epoch (Redis's clock, never going back)
//	n   size counted by Retention.MaxBytes
//	id  the update's id (generated or the publisher's)
//	tp  topics, joined by "\n" (topics cannot contain control characters)
//	ty  type
//	d   data
//	r   retry, in nanoseconds
//	p   "1" when private, else "0"

// luaLib is shared by the scripts that trim.
const luaLib = `
local function seqof(id) return tonumber(string.match(id, '^(%d+)')) end
local function fmt(n) return string.format('%d', n) end

-- trim removes, oldest first, at most limit entries that are beyond the
-- retention bounds, and the index members that pointed at them only.
local function trim(stream, meta, ids, maxCount, maxBytes, maxAgeUs, limit)
  if maxCount <= 0 and maxBytes <= 0 and maxAgeUs <= 0 then return 0 end
  local len = redis.call('XLEN', stream)
  local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
  if maxAgeUs <= 0 and (maxCount <= 0 or len <= maxCount) and (maxBytes <= 0 or bytes <= maxBytes) then
    return 0
  end
  local cutoff = 0
  if maxAgeUs > 0 then
    local now = redis.call('TIME')
    cutoff = tonumber(now[1]) * 1000000 + tonumber(now[2]) - maxAgeUs
  end
  local removed, freed, last = 0, 0, nil
  local from = '-'
  while removed < limit do
    local es = redis.call('XRANGE', stream, from, '+', 'COUNT', math.min(100, limit - removed + 1))
    if #es == 0 then break end
    local stop = false
    for _, e in ipairs(es) do
      local f = e[2]
      local t, n = tonumber(f[4]) or 0, tonumber(f[6]) or 0
      if removed < limit and ((maxCount > 0 and len - removed > maxCount) or
          (maxBytes > 0 and bytes - freed > maxBytes) or t < cutoff) then
        removed = removed + 1
        freed = freed + n
        last = e[1]
      else
        stop = true
        break
      end
    end
    if stop then break end
    from = '(' .. es[#es][1]
  end
  if removed == 0 then return 0 end
  local seq = seqof(last)
  redis.call('XTRIM', stream, 'MINID', fmt(seq + 1) .. '-0')
  redis.call('HINCRBY', meta, 'bytes', fmt(-freed))
  redis.call('ZREMRANGEBYSCORE', ids, '-inf', fmt(seq))
  return removed
end
`

// initScript returns the instance id, creating it (ARGV[1]) when meta has
// none. A new instance's first Seq (recorded as base) is above the Seqs of
// entries the stream may still hold and at least the time in milliseconds
// times 1000, so that Seqs keep increasing across a reset that lost the
// history (a new base is above an old instance's Seqs unless that instance
// averaged a million appends a second). Seqs stay below 2^53 (exact in Lua
// numbers and sorted-set scores) until the year 2255.
var initScript = goredis.NewScript(`
local inst = redis.call('HGET', KEYS[2], 'instance')
if inst then return inst end
local now = redis.call('TIME')
local seq = tonumber(now[1]) * 1000000 + math.floor(tonumber(now[2]) / 1000) * 1000 - 1
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then seq = math.max(seq, tonumber(string.match(last[1][1], '^(%d+)'))) end
redis.call('HSET', KEYS[2], 'instance', ARGV[1], 'seq', string.format('%d', seq),
  'base', string.format('%d', seq + 1), 'bytes', '0')
return ARGV[1]
`)

// appendScript stores a batch of updates (one, for Append): all of them or,
// with an error, none. ARGV: maxCount, maxBytes, maxAge in microseconds,
// trim limit, the number n of updates, then for each update: id (empty:
// generate), size, topics, type, data, retry, private. It returns {first
// seq, time in microseconds, instance}, the error HERALD_NOINSTANCE when
// meta is gone (Redis lost its data), or HERALD_CONFLICT <k>, having stored
// nothing, when update k's id is held (the ids index holds exactly the
// publishers' ids of the entries held: trim prunes it).
//
// Every check comes before the first write, and the shebang makes Redis 7
// refuse the script at its start when it is out of memory (a script without
// one can be stopped by OOM after some writes), so a batch is never stored
// in part.
var appendScript = goredis.NewScript("#!lua\n" + luaLib + `
local inst = redis.call('HGET', KEYS[2], 'instance')
if not inst then return redis.error_reply('HERALD_NOINSTANCE the store has no instance id (Redis lost its data)') end
local n = tonumber(ARGV[5])
for k = 0, n - 1 do
  local id = ARGV[6 + 7 * k]
  if id ~= '' and redis.call('ZSCORE', KEYS[3], id) then
    return redis.error_reply('HERALD_CONFLICT ' .. k)
  end
end
local first = redis.call('HINCRBY', KEYS[2], 'seq', n) - n + 1
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local prev = tonumber(redis.call('HGET', KEYS[2], 'time') or '0')
if t < prev then t = prev end
local ts = fmt(t)
local size = 0
for k = 0, n - 1 do
  local a, seq = 6 + 7 * k, first + k
  local id = ARGV[a]
  if id == '' then id = 'urn:herald:' .. inst .. ':' .. fmt(seq) end
  redis.call('XADD', KEYS[1], fmt(seq) .. '-0', 'i', inst, 't', ts, 'n', ARGV[a + 1], 'id', id,
    'tp', ARGV[a + 2], 'ty', ARGV[a + 3], 'd', ARGV[a + 4], 'r', ARGV[a + 5], 'p', ARGV[a + 6])
  if ARGV[a] ~= '' then redis.call('ZADD', KEYS[3], fmt(seq), ARGV[a]) end
  size = size + tonumber(ARGV[a + 1])
end
redis.call('HSET', KEYS[2], 'time', ts)
redis.call('HINCRBY', KEYS[2], 'bytes', fmt(size))
trim(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
return {first, ts, inst}
`)

// sweepScript enforces retention. ARGV: maxCount, maxBytes, maxAge in
// microseconds, limit. It returns how many entries it removed.
var sweepScript = goredis.NewScript(luaLib + `
return trim(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
`)

// lookupScript returns the entry an id names, as XRANGE does (an empty
// array when it is not held). ARGV: mode ("g": a generated id or a position,
// "p": a publisher's id), instance (mode g), Seq (mode g) or the publisher's
// id (mode p).
var lookupScript = goredis.NewScript(`
local seq
if ARGV[1] == 'g' then
  if redis.call('HGET', KEYS[2], 'instance') ~= ARGV[2] then return {} end
  seq = ARGV[3]
else
  local score = redis.call('ZSCORE', KEYS[3], ARGV[3])
  if not score then return {} end
  seq = string.format('%d', tonumber(score))
end
local id = seq .. '-0'
return redis.call('XRANGE', KEYS[1], id, id)
`)

// locateScript resolves where a Replay starts. ARGV: mode ("e": earliest,
// "g": a generated id, "p": a publisher's id), instance (mode g), Seq (mode
// g) or the publisher's id (mode p). It returns {held, after, upper}: held is
// 0 when the id is not held; after is the Seq to replay after (-1: from the
// oldest entry); upper is the newest Seq (0: empty stream).
var locateScript = goredis.NewScript(`
local function seqof(id) return tonumber(string.match(id, '^(%d+)')) end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local upper = 0
if #last > 0 then upper = seqof(last[1][1]) end
if ARGV[1] == 'e' then return {1, -1, upper} end
local seq
if ARGV[1] == 'g' then
  if redis.call('HGET', KEYS[2], 'instance') ~= ARGV[2] then return {0, 0, upper} end
  seq = tonumber(ARGV[3])
else
  local score = redis.call('ZSCORE', KEYS[3], ARGV[3])
  if not score then return {0, 0, upper} end
  seq = tonumber(score)
end
local id = string.format('%d-0', seq)
if #redis.call('XRANGE', KEYS[1], id, id) == 0 then return {0, 0, upper} end
return {1, seq, upper}
`)
