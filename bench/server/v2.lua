-- wrk script: POST the same pre-built V2 request body on every request, and print the run's
-- figures as one machine-readable line (`BENCH_RESULT {...}`) for bench/server/run.ts.
-- Environment: BENCH_BODY (file with the body), BENCH_CONTENT_TYPE (optional),
-- BENCH_HEADER_LENGTH (optional Inference-Header-Content-Length for the binary extension).
-- No response() callback: wrk would then hand every response to Lua, and the generator would take
-- CPU from the server under test. wrk itself counts statuses >= 400 (errors.status).

local function read_file(path)
  local file = assert(io.open(path, "rb"), "cannot open BENCH_BODY " .. tostring(path))
  local content = file:read("*a")
  file:close()
  return content
end

wrk.method = "POST"
wrk.body = read_file(os.getenv("BENCH_BODY"))
local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end
local header_length = os.getenv("BENCH_HEADER_LENGTH")
if header_length and header_length ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = header_length
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
