"""Lua scripts that decide a whole policy in one Redis round trip.

Each is a translation of the window functions of :mod:`hardening.ratelimit.windows`, in
integer milliseconds: ``fits`` for every limit, then ``take`` for every limit, so a
rejected request consumes nothing ("all or none"). A property test runs both on the same
hits against a real Redis and checks they decide alike.

``KEYS`` has one key per limit (the policy's keys share a hash tag, so a Redis Cluster
serves them from one node). ``ARGV = [now_ms, cost, force, amount_1, window_ms_1, ...]``,
where an empty ``now_ms`` means Redis' own clock (``TIME``, so workers with skewed clocks
agree) and ``force = 1`` charges the request even when it does not fit (recording what
the fallback admitted). The reply is ``[allowed, remaining_1, reset_ms_1, ...]``.
"""

from __future__ import annotations

from typing import Final

__all__ = ("SCRIPTS",)

_HEAD: Final = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[2])
local force = ARGV[3] == '1'
local n = #KEYS
local allowed = true
local out = {0}
"""

_TAIL: Final = """
if force then allowed = true end
if allowed then out[1] = 1 end
for i = 1, n do
  local remaining, reset = take(i, tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3]))
  if remaining < 0 then remaining = 0 end
  out[2 * i], out[2 * i + 1] = remaining, reset
end
return out
"""

FIXED_WINDOW: Final = (
    _HEAD
    + """
-- state: a hash {c = count, e = end of the window}
local counts, ends, rolled = {}, {}, {}
for i = 1, n do
  local amount, window = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  local state = redis.call('HMGET', KEYS[i], 'c', 'e')
  local c, e = tonumber(state[1]) or 0, tonumber(state[2])
  rolled[i] = false
  if not e or now >= e then c, e, rolled[i] = 0, now + window, true end
  counts[i], ends[i] = c, e
  if c + cost > amount then allowed = false end
end
local function take(i, amount, window)
  if allowed then counts[i] = counts[i] + cost end
  if allowed or rolled[i] then
    redis.call('HSET', KEYS[i], 'c', counts[i], 'e', ends[i])
    redis.call('PEXPIRE', KEYS[i], ends[i] - now)
  end
  return amount - counts[i], ends[i] - now
end
"""
    + _TAIL
)

MOVING_WINDOW: Final = (
    _HEAD
    + """
-- state: a list of hit times, newest first, at most `amount` long
local hits = {}
for i = 1, n do
  local amount, window = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  local inside = {}
  for _, v in ipairs(redis.call('LRANGE', KEYS[i], 0, amount - 1)) do
    local ts = tonumber(v)
    if ts > now - window then inside[#inside + 1] = ts else break end
  end
  hits[i] = inside
  if #inside + cost > amount then allowed = false end
end
local function take(i, amount, window)
  local inside = hits[i]
  local count, reset = #inside, window
  if allowed then
    for _ = 1, cost do redis.call('LPUSH', KEYS[i], now) end
    redis.call('LTRIM', KEYS[i], 0, amount - 1)
    redis.call('PEXPIRE', KEYS[i], window)
    count = math.min(count + cost, amount)  -- what LTRIM kept (a forced charge may pass the limit)
    if count > cost then reset = inside[count - cost] + window - now end
  elseif cost <= amount and inside[amount - cost + 1] then
    reset = inside[amount - cost + 1] + window - now
  end
  return amount - count, reset
end
"""
    + _TAIL
)

SLIDING_WINDOW_COUNTER: Final = (
    _HEAD
    + """
-- state: one counter per window index, KEYS[i]:index; the previous one is weighted
local curr, prev, idx = {}, {}, {}
local function used(i, window)
  return prev[i] * (window - (now - idx[i] * window)) + curr[i] * window
end
for i = 1, n do
  local amount, window = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  local index = math.floor(now / window)
  idx[i] = index
  curr[i] = tonumber(redis.call('GET', KEYS[i] .. ':' .. index) or '0')
  prev[i] = tonumber(redis.call('GET', KEYS[i] .. ':' .. (index - 1)) or '0')
  if used(i, window) + cost * window > amount * window then allowed = false end
end
local function take(i, amount, window)
  local u = used(i, window)
  local left = window - (now - idx[i] * window)
  local reset = left
  if allowed then
    local key = KEYS[i] .. ':' .. idx[i]
    redis.call('INCRBY', key, cost)
    redis.call('PEXPIRE', key, 2 * window)
    u = u + cost * window
  else
    local excess = u + cost * window - amount * window
    if excess > 0 and excess <= prev[i] * left then reset = math.ceil(excess / prev[i]) end
  end
  return math.floor((amount * window - u) / window), reset
end
"""
    + _TAIL
)

SCRIPTS: Final = {
    "fixed-window": FIXED_WINDOW,
    "moving-window": MOVING_WINDOW,
    "sliding-window-counter": SLIDING_WINDOW_COUNTER,
}
"""The decision script of each strategy."""
