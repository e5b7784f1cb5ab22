-- wrk script for bench/e2e.sh: POST /api/orders with the order mix of
-- run-e2e.py (1-3 distinct skus of SKU-0001..SKU-<skus>, qty 1-5, a random
-- customer), a new order per request.  Counts the 2xx answers and the
-- 429/503 push-backs separately (wrk's own "Non-2xx" lumps them together).
local skus = tonumber(os.getenv("E2E_SKUS") or "1000")
counts = {}  -- a global: done() reads each thread's copy with thread:get

function init(args)
  math.randomseed(os.time() * 100 + (id or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local n = math.random(1, 3)
  local picked, items = {}, {}
  while #items < n do
    local k = math.random(1, skus)
    if not picked[k] then
      picked[k] = true
      items[#items + 1] = string.format('{"sku":"SKU-%04d","qty":%d}', k, math.random(1, 5))
    end
  end
  local body = string.format('{"customerId":"cust-%d","items":[%s]}', math.random(1, 100000),
                             table.concat(items, ","))
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

function done(summary, latency, requests)
  local ok, pushed, other = 0, 0, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for status, n in pairs(c) do
      if status >= 200 and status < 300 then ok = ok + n
      elseif status == 429 or status == 503 then pushed = pushed + n
      else other = other + n end
    end
  end
  io.write(string.format("WRK_RESULT duration_s=%.3f requests=%d ok=%d pushed_back=%d other=%d errors=%d " ..
                         "p50_ms=%.2f p99_ms=%.2f\n",
                         summary.duration / 1e6, summary.requests, ok, pushed, other,
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                         summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
