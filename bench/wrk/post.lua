-- SPDX-License-Identifier: Apache-2.0
-- post.lua: the request of every wrk run in bench/run. The URL comes from the command line;
-- the rest from the environment:
--   BENCH_BODY        request body (default: the hello trigger body)
--   BENCH_KEY         API key sent as `Authorization: Bearer …` (empty: none)
--   BENCH_STOP_AFTER  stop sending after this many responses (0: run for the whole -d
--                     duration) and create the file BENCH_DONE_FILE, on which bench/run ends wrk
--                     with SIGINT (wrk's main thread otherwise sleeps the whole -d duration)
-- At the end one line: BENCH <requests> <seconds> <p50 µs> <p99 µs> <mean µs> <socket errors>
-- <non-2xx responses>.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or '{"inputs":{"name":"Ada"}}'
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY") or ""
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

local stop_after = tonumber(os.getenv("BENCH_STOP_AFTER") or "0") or 0
if stop_after > 0 then
  local count = 0
  response = function(status, headers, body)
    count = count + 1
    if count == stop_after then
      local f = io.open(os.getenv("BENCH_DONE_FILE"), "w")
      if f then f:close() end
      wrk.thread:stop()
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %.6f %.1f %.1f %.1f %d %d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect + e.read + e.write + e.timeout, e.status))
end
