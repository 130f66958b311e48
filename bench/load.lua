-- wrk script for bench/load.py: signed Shopify webhooks of mixed topics at a fixed rate.
--
-- BENCH_MANIFEST names a file with one delivery kind per line: "weight<TAB>topic<TAB>hmac<TAB>path"
-- (the HMAC of the body in that file, computed by bench/load.py). Requests cycle through a
-- weighted schedule of the kinds, each with its own X-Shopify-Event-Id / Webhook-Id (prefix,
-- thread, counter), so none is a duplicate. Pacing, counting and the result line are
-- bench/wrk_common.lua's, as for bench/webhooks.lua.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "wrk_common.lua")

local kinds, schedule, headers

function init(args)
  bench.init()
  kinds, schedule = {}, {}
  for line in io.lines(os.getenv("BENCH_MANIFEST")) do
    local weight, topic, hmac, path = line:match("^(%d+)\t([^\t]+)\t([^\t]+)\t(.+)$")
    table.insert(kinds, { topic = topic, hmac = hmac, body = bench.read(path) })
    for _ = 1, tonumber(weight) do table.insert(schedule, #kinds) end
  end
  headers = bench.headers()
end

function request()
  local kind = kinds[schedule[(sent % #schedule) + 1]]
  local id = bench.next_id()
  if id ~= nil then
    headers["X-Shopify-Topic"] = kind.topic
    headers["X-Shopify-Hmac-Sha256"] = kind.hmac
    headers["X-Shopify-Event-Id"] = id
    headers["X-Shopify-Webhook-Id"] = id
  end
  return wrk.format("POST", nil, headers, kind.body)
end
