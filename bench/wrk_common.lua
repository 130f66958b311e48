-- What bench/webhooks.lua and bench/load.lua share, loaded by each with dofile() from its
-- own directory: wrk's setup(), delay(), response() and done() hooks, and the request ids.
--
-- Pacing: wrk calls delay() before every request. With BENCH_RATE > 0 each thread follows a
-- fixed schedule (open loop while a connection is free); with 0 it sends as fast as it can.
-- After BENCH_ACTIVE seconds no new request is sent, so every request in flight is answered
-- before wrk stops (run wrk for longer than BENCH_ACTIVE): sent == answered, and the stored
-- rows can be compared exactly with the 2xx answers. done() prints one BENCH_RESULT line of
-- JSON, which bench/harness.py reads.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local bench = {}

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

local prefix, interval, active
local started, slot = nil, 0
-- Read back by done() through thread:get, so these are globals of the thread's state.
sent, answered, ok, client_errors, server_errors, first_at, last_at = 0, 0, 0, 0, 0, 0, 0

-- Called by the script's init(): the pacing and id settings from the BENCH_* variables.
function bench.init()
  prefix = os.getenv("BENCH_ID_PREFIX") .. "-" .. tid .. "-"
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  interval = rate > 0 and 1 / rate or 0
  active = tonumber(os.getenv("BENCH_ACTIVE"))
end

function bench.read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

-- The headers every delivery carries; the script adds topic, HMAC and ids.
function bench.headers()
  return {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Shop-Domain"] = os.getenv("BENCH_SHOP"),
    ["X-Shopify-Triggered-At"] = "2026-11-25T10:00:00.000Z",
    ["X-Shopify-API-Version"] = "2025-01",
  }
end

-- The next request's event id (prefix, thread, counter), counted as sent; nil for the
-- request wrk builds once before the run to check the script, which is never sent.
function bench.next_id()
  if started == nil then
    return nil
  end
  sent = sent + 1
  return prefix .. sent
end

function delay()
  local t = now()
  if started == nil then
    started, first_at = t, t
  end
  local due = started + slot * interval
  if t - started >= active or due - started >= active then
    return 3600 * 1000 -- the active window is over: send nothing more, let answers arrive
  end
  slot = slot + 1
  return due > t and math.floor((due - t) * 1000) or 0
end

function response(status, _headers, _body)
  answered = answered + 1
  last_at = now()
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status >= 500 then
    server_errors = server_errors + 1
  else
    client_errors = client_errors + 1
  end
end

local COUNTERS = { "sent", "answered", "ok", "client_errors", "server_errors" }

function done(summary, latency, _requests)
  local total = {}
  for _, name in ipairs(COUNTERS) do total[name] = 0 end
  local first, last = math.huge, 0
  for _, thread in ipairs(threads) do
    for _, name in ipairs(COUNTERS) do total[name] = total[name] + thread:get(name) end
    local f, l = thread:get("first_at"), thread:get("last_at")
    if f > 0 and f < first then first = f end
    if l > last then last = l end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"sent": %d, "answered": %d, "ok": %d, "client_errors": %d, ' ..
    '"server_errors": %d, "elapsed_s": %.6f, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    total.sent, total.answered, total.ok, total.client_errors, total.server_errors,
    last > first and last - first or 0, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout))
end

return bench
