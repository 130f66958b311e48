-- wrk script: signed Shopify webhook deliveries, each with its own event and webhook id.
--
-- The body never changes, so neither does its HMAC (computed once by bench/intake.py); the ids
-- vary per request and are not covered by the HMAC. Configuration comes from BENCH_* variables.
--
-- Pacing: wrk calls delay() before every request. With BENCH_RATE > 0 each thread follows a
-- fixed schedule (open loop while a connection is free); with 0 it sends as fast as it can.
-- After BENCH_ACTIVE seconds no new request is sent, so every request in flight is answered
-- before wrk stops (run wrk for longer than BENCH_ACTIVE): sent == answered, and the stored
-- rows can be compared exactly with the 2xx answers.

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

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

local headers, body, prefix
local interval, active
local started, slot = nil, 0
-- Read back by done() through thread:get, so these are globals of the thread's state.
sent, answered, ok, client_errors, server_errors, first_at, last_at = 0, 0, 0, 0, 0, 0, 0

function init(args)
  local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  body = file:read("*a")
  file:close()
  prefix = os.getenv("BENCH_ID_PREFIX") .. "-" .. tid .. "-"
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  interval = rate > 0 and 1 / rate or 0
  active = tonumber(os.getenv("BENCH_ACTIVE"))
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = os.getenv("BENCH_TOPIC"),
    ["X-Shopify-Hmac-Sha256"] = os.getenv("BENCH_HMAC"),
    ["X-Shopify-Shop-Domain"] = os.getenv("BENCH_SHOP"),
    ["X-Shopify-Triggered-At"] = "2026-11-25T10:00:00.000Z",
    ["X-Shopify-API-Version"] = "2025-01",
  }
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

function request()
  if started == nil then
    -- wrk calls request() once before the run to check the script: that one is never sent.
    return wrk.format("POST", nil, headers, body)
  end
  sent = sent + 1
  local id = prefix .. sent
  headers["X-Shopify-Event-Id"] = id
  headers["X-Shopify-Webhook-Id"] = id
  return wrk.format("POST", nil, headers, body)
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
