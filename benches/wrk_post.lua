-- wrk's sender for benches/compare.sh: every request POSTs the static body
-- of the bare senders (benches/body.json) with a bearer token, and done()
-- prints one line the script parses.
-- Environment: BENCH_BODY (path of the body), BENCH_TOKEN (the access token).
local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_result requests %d duration_us %d errors %d p99_us %d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(99)))
end
