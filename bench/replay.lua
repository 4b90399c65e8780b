-- wrk script: replay pre-signed raw HTTP requests, round robin per connection thread.
-- The file named by the first script argument holds the requests separated by NUL bytes
-- (a request never contains one). done() prints one machine-readable line for http_bench.py.

local requests = {}
local index = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for request in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = request
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout))
end
