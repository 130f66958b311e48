-- wrk script: signed Shopify webhook deliveries, each with its own event and webhook id.
--
-- The body never changes, so neither does its HMAC (computed once by bench/intake.py); the ids
-- vary per request and are not covered by the HMAC. Configuration comes from BENCH_* variables.
-- Pacing, counting and the result line are bench/wrk_common.lua's.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "wrk_common.lua")

local headers, body

function init(args)
  bench.init()
  body = bench.read(os.getenv("BENCH_BODY_FILE"))
  headers = bench.headers()
  headers["X-Shopify-Topic"] = os.getenv("BENCH_TOPIC")
  headers["X-Shopify-Hmac-Sha256"] = os.getenv("BENCH_HMAC")
end

function request()
  local id = bench.next_id()
  if id ~= nil then
    headers["X-Shopify-Event-Id"] = id
    headers["X-Shopify-Webhook-Id"] = id
  end
  return wrk.format("POST", nil, headers, body)
end
