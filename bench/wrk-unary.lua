-- wrk script: POST one fixed gRPC-Web request body (read from $BENCH_BODY_FILE) with
-- content type $BENCH_CONTENT_TYPE, and print a machine-readable summary line at the end.
-- With $BENCH_MAX_CALLS set, each thread stops after that many responses (soak mode).
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/grpc-web+proto"
wrk.headers["X-Grpc-Web"] = "1"
wrk.headers["X-User-Agent"] = "grpc-web-javascript/0.1"

local max = tonumber(os.getenv("BENCH_MAX_CALLS") or "")
if max then
  local n = 0
  function response(status, headers, body)
    n = n + 1
    if n >= max then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"calls":%d,"durationS":%.6f,"bytes":%d,"errors":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Ms":%.4f,"p99Ms":%.4f,"meanMs":%.4f,"maxMs":%.4f}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000))
end
