"""Lua scripts that decide a whole policy in one Redis round trip.

Each script takes one key per limit (``KEYS``) and ``ARGV = [cost, amount_1, window_ms_1,
amount_2, window_ms_2, ...]``. It checks every limit first and consumes all of them only
when all allow the request ("all or none"), so a rejected request never uses quota. It
returns ``[allowed, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...]`` where
``reset_ms`` is how long until more quota is available for that limit.

Time comes from the Redis server (``TIME``) for the moving window and the sliding window
counter, so workers with skewed clocks still agree.
"""

from __future__ import annotations

from typing import Final

__all__ = ("FIXED_WINDOW", "MOVING_WINDOW", "PING_SCRIPT", "SCRIPTS", "SLIDING_WINDOW_COUNTER")

FIXED_WINDOW: Final = """
local cost = tonumber(ARGV[1])
local n = #KEYS
local counts, ttls = {}, {}
local allowed = 1
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local ttl = redis.call('PTTL', KEYS[i])
  local count = 0
  if ttl > 0 then count = tonumber(redis.call('GET', KEYS[i]) or '0') end
  counts[i], ttls[i] = count, ttl
  if count + cost > amount then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local count, ttl = counts[i], ttls[i]
  if allowed == 1 then
    if ttl > 0 then
      count = redis.call('INCRBY', KEYS[i], cost)
    else
      redis.call('SET', KEYS[i], cost, 'PX', window)
      count, ttl = cost, window
    end
  end
  if ttl <= 0 then ttl = window end
  local remaining = amount - count
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = ttl
end
return out
"""

MOVING_WINDOW: Final = """
local cost = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local entries, counts = {}, {}
local allowed = 1
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local list = redis.call('LRANGE', KEYS[i], 0, amount - 1)
  local inside = {}
  for _, v in ipairs(list) do
    local ts = tonumber(v)
    if ts > now - window then inside[#inside + 1] = ts else break end
  end
  entries[i], counts[i] = inside, #inside
  if #inside + cost > amount then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local inside, count = entries[i], counts[i]
  local reset = window
  if allowed == 1 then
    for _ = 1, cost do redis.call('LPUSH', KEYS[i], now) end
    redis.call('LTRIM', KEYS[i], 0, amount - 1)
    redis.call('PEXPIRE', KEYS[i], window)
    count = count + cost
    if count > cost then reset = inside[count - cost] + window - now end
  elseif cost <= amount and inside[amount - cost + 1] then
    reset = inside[amount - cost + 1] + window - now
  end
  local remaining = amount - count
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
return out
"""

SLIDING_WINDOW_COUNTER: Final = """
local cost = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local currs, prevs, weights, elapseds, curkeys = {}, {}, {}, {}, {}
local allowed = 1
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local index = math.floor(now / window)
  local elapsed = now - index * window
  local curkey = KEYS[i] .. ':' .. index
  local curr = tonumber(redis.call('GET', curkey) or '0')
  local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (index - 1)) or '0')
  local weighted = prev * (window - elapsed) / window + curr
  currs[i], prevs[i], weights[i], elapseds[i], curkeys[i] = curr, prev, weighted, elapsed, curkey
  if weighted + cost > amount then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local weighted, prev, elapsed = weights[i], prevs[i], elapseds[i]
  local reset = window - elapsed
  if allowed == 1 then
    redis.call('INCRBY', curkeys[i], cost)
    redis.call('PEXPIRE', curkeys[i], 2 * window)
    weighted = weighted + cost
  else
    local excess = weighted + cost - amount
    if prev > 0 and excess <= prev * (window - elapsed) / window then
      reset = math.ceil(excess * window / prev)
    end
  end
  local remaining = math.floor(amount - weighted)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
return out
"""

PING_SCRIPT: Final = "return 1"
"""A tiny script the recovery probe runs to prove scripting works again."""

SCRIPTS: Final = {
    "fixed-window": FIXED_WINDOW,
    "moving-window": MOVING_WINDOW,
    "sliding-window-counter": SLIDING_WINDOW_COUNTER,
}
"""The decision script of each strategy."""
