-- wrk's sender for benches/compare.sh: every request POSTs a new affiliation,
-- the body of the bare senders (benches/body.json) with its numeroRadicado and
-- numeroDocumento taken from a counter, so that a target that stores what it
-- accepts (mss-mock) stores every request instead of refusing duplicates; done()
-- prints one line the script parses.
-- Environment: BENCH_BODY (path of the body), BENCH_TOKEN (the access token).
local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set"), "rb"))
local body = f:read("*a")
f:close()
-- The body around the two values: "%s" where each goes.
local template = body:gsub('"numeroRadicado":"[^"]*"', '"numeroRadicado":"%%s"', 1)
  :gsub('"numeroDocumento":"[^"]*"', '"numeroDocumento":"%%s"', 1)
assert(select(2, template:gsub("%%s", "")) == 2, "BENCH_BODY lacks numeroRadicado or numeroDocumento")
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set"),
}
local n = 0
-- Each wrk thread counts on its own: its id keeps the values apart.
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
end

function request()
  n = n + 1
  local tag = (id or 1) * 100000000 + n
  return wrk.format("POST", nil, headers, string.format(template, "WRK-" .. tag, tostring(1000000000 + tag)))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_result requests %d duration_us %d errors %d p99_us %d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(99)))
end
