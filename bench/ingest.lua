-- wrk script for bench/ingest.py: POST pre-signed WooCommerce order.created webhooks.
--
-- BENCH_BODIES names a file of lines "<X-WC-Webhook-Signature>\t<JSON body>", each a distinct
-- order; wrk thread i of n sends lines i, i+n, i+2n, ... so every request is a new order (a
-- thread that runs out starts again and counts it in `wrapped`). BENCH_PATH is the URL path;
-- BENCH_PAUSE_MS, when set, paces each connection (a pause after every answer). BENCH_HEADERS
-- holds the headers every request carries, the signature aside, as "Name: value" lines.
-- done() prints one line "BENCH_JSON {...}" with counts and latency percentiles (microseconds).

local bodies_file = os.getenv("BENCH_BODIES")
local path = os.getenv("BENCH_PATH") or "/hooks/shop"
local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
local threads = {}

if pause_ms > 0 then
  -- paced run: each connection waits this long after an answer before its next request
  function delay()
    return pause_ms
  end
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  common = {}
  for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+): (.*)$")
    common[name] = value
  end
  reqs = {}
  local i = 0
  for line in io.lines(bodies_file) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      local signature = line:sub(1, tab - 1)
      local body = line:sub(tab + 1)
      local headers = {["X-WC-Webhook-Signature"] = signature}
      for name, value in pairs(common) do
        headers[name] = value
      end
      reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
    end
    i = i + 1
  end
  index = 0
  sent = 0
  ok = 0
  queued = 0
  bad = 0
  wrapped = 0
end

function request()
  index = index + 1
  if index > #reqs then
    index = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return reqs[index]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if body and body:find('"queued":true', 1, true) then
      queued = queued + 1
    end
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local sent_all, ok_all, queued_all, bad_all, wrapped_all = 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    sent_all = sent_all + thread:get("sent")
    ok_all = ok_all + thread:get("ok")
    queued_all = queued_all + thread:get("queued")
    bad_all = bad_all + thread:get("bad")
    wrapped_all = wrapped_all + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "sent": %d, "ok": %d, "queued": %d, ' ..
    '"non_200": %d, "wrapped": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"p999_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, sent_all, ok_all, queued_all, bad_all, wrapped_all,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
