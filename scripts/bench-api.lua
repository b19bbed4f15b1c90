-- wrk script for scripts/bench-api: POSTs pre-minted contact submissions.
--
-- Each wrk thread takes every Nth line of $KILN_BENCH_BODIES, so no two
-- requests share a challenge. $KILN_BENCH_DELAY_MS paces each connection
-- (used to hold a target rate); 0 runs flat out. The summary line at the end
-- is parsed by scripts/bench-api.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("KILN_BENCH_THREADS"))
  bodies = {}
  local i = 0
  for line in io.lines(os.getenv("KILN_BENCH_BODIES")) do
    if i % nthreads == tid then
      bodies[#bodies + 1] = line
    end
    i = i + 1
  end
  next_body = 0
  bad = 0
  pace = tonumber(os.getenv("KILN_BENCH_DELAY_MS") or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = os.getenv("KILN_BENCH_ORIGIN")
  wrk.headers["Sec-Fetch-Site"] = "same-origin"
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function delay()
  return pace
end

function response(status, headers, body)
  if status ~= 201 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non201=%d errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    bad_total, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
