-- wrk script: replay pre-signed raw HTTP requests, round robin per connection thread.
-- The file named by the first script argument holds the requests separated by NUL bytes
-- (a request never contains one). done() prints one machine-readable line for http_bench.py.

local requests = {}
local index = 0

-- Several servers (nodes) on wrk's host: PAYCRYPT_WRK_PORTS="8001,8002" and wrk -t2 send thread i
-- to the i-th port (mod their count), splitting the connections evenly, as a load balancer would.
-- setup() runs in wrk's main Lua state, which gets no script arguments: hence the environment.
local ports, threads = {}, 0
for port in string.gmatch(os.getenv("PAYCRYPT_WRK_PORTS") or "", "%d+") do
  ports[#ports + 1] = port
end

function setup(thread)
  if #ports > 0 then
    thread.addr = wrk.lookup(wrk.host, ports[threads % #ports + 1])[1]
    threads = threads + 1
  end
end

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
