-- wrk script for bench/load.py: signed Shopify webhooks of mixed topics at a fixed rate.
--
-- BENCH_MANIFEST names a file with one delivery kind per line: "weight<TAB>topic<TAB>hmac<TAB>path"
-- (the HMAC of the body in that file, computed by bench/load.py). Requests cycle through a
-- weighted schedule of the kinds, each with its own X-Shopify-Event-Id / Webhook-Id (prefix,
-- thread, counter), so none is a duplicate. Pacing and counting are bench/webhooks.lua's:
-- a fixed schedule per thread (open loop while a connection is free); after BENCH_ACTIVE
-- seconds nothing more is sent, so sent == answered and stored rows compare exactly.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clk_id, load_timespec *tp);
]]
local ts = ffi.new("load_timespec")

local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

local kinds, schedule, prefix, interval, active, base
local started, slot = nil, 0
sent, answered, ok, client_errors, server_errors, first_at, last_at = 0, 0, 0, 0, 0, 0, 0

local function read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

function init(args)
  kinds, schedule = {}, {}
  for line in io.lines(os.getenv("BENCH_MANIFEST")) do
    local weight, topic, hmac, path = line:match("^(%d+)\t([^\t]+)\t([^\t]+)\t(.+)$")
    table.insert(kinds, { topic = topic, hmac = hmac, body = read(path) })
    for _ = 1, tonumber(weight) do table.insert(schedule, #kinds) end
  end
  prefix = os.getenv("BENCH_ID_PREFIX") .. "-" .. tid .. "-"
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  interval = rate > 0 and 1 / rate or 0
  active = tonumber(os.getenv("BENCH_ACTIVE"))
  base = {
    ["Content-Type"] = "application/json",
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
    return 3600 * 1000
  end
  slot = slot + 1
  return due > t and math.floor((due - t) * 1000) or 0
end

function request()
  local kind = kinds[schedule[(sent % #schedule) + 1]]
  if started == nil then
    return wrk.format("POST", nil, base, kind.body) -- wrk's check request, never sent
  end
  sent = sent + 1
  local id = prefix .. sent
  base["X-Shopify-Topic"] = kind.topic
  base["X-Shopify-Hmac-Sha256"] = kind.hmac
  base["X-Shopify-Event-Id"] = id
  base["X-Shopify-Webhook-Id"] = id
  return wrk.format("POST", nil, base, kind.body)
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
