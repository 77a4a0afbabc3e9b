-- wrk `done` hook for bench/load.ts: one JSON line with the exact figures (latencies in microseconds,
-- every kind of error; wrk counts answers with status >= 400 under errors.status).
-- With WRK_HISTOGRAM=1 the line also holds wrk's whole latency distribution, "histogram_us": [[value,
-- count], ...] (`latency(i)` is the i-th distinct value and its count), so that slices of one candidate's
-- load can be merged into exact percentiles.
local histogram = os.getenv("WRK_HISTOGRAM") == "1"

done = function(summary, latency, requests)
  local e = summary.errors
  local entries = {}
  if histogram then
    for i = 1, #latency do
      local value, count = latency(i)
      entries[#entries + 1] = string.format('[%.0f,%.0f]', value, count)
    end
  end
  io.write(string.format(
    '{"wrk":1,"requests":%.0f,"duration_us":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f}%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout,
    histogram and (',"histogram_us":[' .. table.concat(entries, ',') .. ']') or ''))
end

-- WRK_METHOD and WRK_BODY (bench/load.ts's POST runs): the same method and body on every request.
wrk.method = os.getenv("WRK_METHOD") or wrk.method
wrk.body = os.getenv("WRK_BODY") or wrk.body

-- WRK_PACE_MS (bench/load.ts's offered-load runs): each connection waits a random time after an answer
-- before its next request (and before its first), drawn from an exponential distribution with that mean:
-- an offered load of about connections x 1000 / WRK_PACE_MS requests per second, arriving as independent
-- clients' requests do. A fixed wait, as until 2026-12-07, made every connection send its first request at
-- the same moment and kept them in step after that: the candidate got bursts of 32 requests at once, and
-- the p99 measured how long it took to drain a burst. wrk takes whole milliseconds; rounding to the
-- nearest keeps the mean. LuaJIT's generator is not seeded, so every run draws the same sequence.
local pace = tonumber(os.getenv("WRK_PACE_MS"))
if pace then
  delay = function()
    return math.floor(-pace * math.log(1 - math.random()) + 0.5)
  end
end
