-- wrk script of bench/api_load.py: replays the requests of one endpoint and counts statuses.
--
-- BENCH_REQUESTS names a file of request templates, one per line:
--   METHOD <tab> PATH <tab> BEARER TOKEN (may be empty) <tab> JSON BODY (may be empty)
-- Each connection walks the list round-robin from its own offset. "@SHA256@" in a body is
-- replaced by 64 fresh random hex digits on every request (a new photo for each presign).
-- At the end one line "BENCH_RESULT {json}" carries requests, duration, latency
-- percentiles, socket errors and the count of every HTTP status. With BENCH_RECORD_IDS set
-- to a file name, the X-Request-ID of every 2xx response is written there, one per line.

local templates = {}
local closing = {}  -- the same requests with "Connection: close"
local cursor = 0
local sent = 0
-- Every Nth request asks the server to close its connection, and wrk reconnects. gunicorn's
-- workers take connections as they come, and a keep-alive connection stays with one worker:
-- without reconnects one worker can hold all eight for a whole run while the other idles.
-- A new connection mostly goes to the worker that is free to accept it.
local reconnect_every = tonumber(os.getenv("BENCH_RECONNECT_EVERY") or "0")
-- Globals: done() reads them from each thread with thread:get().
statuses = {}
accepted_ids = {}
local record_ids = os.getenv("BENCH_RECORD_IDS")
local threads = {}
local PLACEHOLDER = "@SHA256@"

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

local function random_hex64()
  local parts = {}
  for i = 1, 8 do
    parts[i] = string.format("%08x", math.random(0, 0x7fffffff) * 2 + math.random(0, 1))
  end
  return table.concat(parts)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, target, token, body = line:match("^(%u+)\t([^\t]+)\t([^\t]*)\t(.*)$")
    local headers = {}
    if token ~= "" then
      headers["Authorization"] = "Bearer " .. token
    end
    if body ~= "" then
      headers["Content-Type"] = "application/json"
    else
      body = nil
    end
    local closing_headers = { Connection = "close" }
    for name, value in pairs(headers) do
      closing_headers[name] = value
    end
    if body and body:find(PLACEHOLDER, 1, true) then
      table.insert(templates, { method = method, target = target, headers = headers, body = body })
      table.insert(closing, { method = method, target = target, headers = closing_headers, body = body })
    else
      table.insert(templates, wrk.format(method, target, headers, body))
      table.insert(closing, wrk.format(method, target, closing_headers, body))
    end
  end
  cursor = (thread_number or 0) * 997 % #templates
end

function request()
  cursor = cursor % #templates + 1
  sent = sent + 1
  local template = templates[cursor]
  if reconnect_every > 0 and sent % reconnect_every == 0 then
    template = closing[cursor]
  end
  if type(template) == "string" then
    return template
  end
  local body = template.body:gsub(PLACEHOLDER, random_hex64())
  return wrk.format(template.method, template.target, template.headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if record_ids and status >= 200 and status < 300 then
    accepted_ids[#accepted_ids + 1] = headers["X-Request-ID"]
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local status_parts = {}
  for status, count in pairs(total) do
    table.insert(status_parts, string.format('"%d": %d', status, count))
  end
  if record_ids then
    local out = assert(io.open(record_ids, "w"))
    for _, thread in ipairs(threads) do
      for _, id in ipairs(thread:get("accepted_ids")) do
        out:write(id, "\n")
      end
    end
    out:close()
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(status_parts, ", ")
  ))
end
