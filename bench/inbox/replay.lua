-- wrk script for bench/bench_inbox.py: replay pre-signed raw HTTP requests.
--
--   wrk -t T -c C -d D -s replay.lua http://127.0.0.1:PORT -- REQUESTS_FILE [T [OFFSET]]
--
-- REQUESTS_FILE holds, for each request, its byte length on a line and then
-- the raw request bytes (request line, headers, body). Thread i of T takes
-- requests i, i+T, i+2T ... so no two threads send the same activity; when a
-- thread runs out it starts again from the head of its slice and counts a wrap
-- (those repeats are duplicates the server answers 202 without work).
-- OFFSET (default 0) counts in the whole list: each thread starts OFFSET // T
-- requests into its own slice, skipping what earlier runs against the same
-- server sent (bench_inbox.py --paired), and only the requests from there to
-- the end of its slice count as unique. The response hook counts statuses;
-- done() prints one machine-readable line:
--   RESULT requests=N duration_us=N ok=N non2xx=N sent=N sent_max=N unique=N
--          wraps=N errors=N p50_us=N p99_us=N statuses=CODE:N,CODE:N
-- (sent_max: the most any one thread sent, so that T * sent_max is an offset
-- past everything this run sent, however unevenly the threads went).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local stride = tonumber(args[2] or "1")
  local offset = tonumber(args[3] or "0")
  local f = assert(io.open(path, "rb"))
  reqs = {}
  local i = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local n = tonumber(line)
    local data = f:read(n)
    if i % stride == tid then
      reqs[#reqs + 1] = data
    end
    i = i + 1
  end
  f:close()
  skip = math.floor(offset / stride)
  -- what this thread can send before it repeats an activity the server has seen
  nreqs = math.max(0, #reqs - skip)
  idx = 0
  wraps = 0
  if #reqs > 0 then
    idx = skip % #reqs
    wraps = math.floor(skip / #reqs)  -- an offset past the end: every request is a repeat
  end
  sent = 0
  ok = 0
  non2xx = 0
  statuses = {}
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wraps = wraps + 1
  end
  sent = sent + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local t_ok, t_non, t_sent, t_sent_max, t_unique, t_wraps = 0, 0, 0, 0, 0, 0
  local codes = {}
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_non = t_non + thread:get("non2xx")
    local s = thread:get("sent")
    local n = thread:get("nreqs")
    t_sent = t_sent + s
    t_sent_max = math.max(t_sent_max, s)
    t_unique = t_unique + math.min(s, n)
    t_wraps = t_wraps + thread:get("wraps")
    for code, count in pairs(thread:get("statuses")) do
      codes[code] = (codes[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(codes) do
    parts[#parts + 1] = code .. ":" .. count
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d ok=%d non2xx=%d sent=%d sent_max=%d unique=%d"
      .. " wraps=%d errors=%d p50_us=%d p99_us=%d statuses=%s\n",
    summary.requests, summary.duration, t_ok, t_non, t_sent, t_sent_max, t_unique, t_wraps,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ",")))
end
