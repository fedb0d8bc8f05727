-- wrk script: POST /api/v1/responses with a unique UUID and fresh answers per request.
--
-- The body config (form, items and their valid codes, counters) is a Lua file written by
-- submissions.py, named by the environment variable SIPAS_BENCH_CONFIG. Each wrk thread builds
-- UUIDs "<run 8 hex>-<thread 4 hex>-4<seq>..." so they never repeat across threads or runs.
-- Each thread appends the ids the server acknowledged (201 + body id) to
-- <ack_prefix>.<thread>.txt and reports its status counts in done() as one "WRKJSON {...}" line.

local config = dofile(os.getenv("SIPAS_BENCH_CONFIG"))
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Globals of each thread's Lua state, read by done() through thread:get().
seq = 0
sent = 0
status_counts = {}
local ack_file = nil
local item_codes = config.items

function init(args)
  math.randomseed(tid * 7919 + config.seed)
  ack_file = io.open(string.format("%s.%d.txt", config.ack_prefix, tid), "w")
  ack_file:setvbuf("line")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept-Language"] = "vi"
end

local function uuid()
  seq = seq + 1
  local hi = math.floor(seq / 65536)
  local lo = seq % 65536
  return string.format("%s-%04x-4%03x-8%03x-%08x%04x", config.run, tid, hi % 4096,
    math.floor(hi / 4096) % 4096, math.floor(hi / 16777216), lo)
end

function request()
  local parts = {}
  for i = 1, #item_codes do
    local item = item_codes[i]
    local codes = item[2]
    parts[i] = string.format('"%s":%d', item[1], codes[math.random(#codes)])
  end
  local counter_code = config.counters[math.random(#config.counters)]
  local body = string.format(
    '{"id":"%s","form_id":"%s","form_version":%d,"counter_code":"%s","channel":"counter_qr",' ..
    '"answers":{%s},"started_at":"%s","locale":"vi"}',
    uuid(), config.form_id, config.form_version, counter_code, table.concat(parts, ","),
    config.started_at)
  sent = sent + 1
  return wrk.format(nil, config.path, nil, body)
end

function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
  if status == 201 then
    local id = string.match(body, '"id"%s*:%s*"([0-9a-f%-]+)"')
    ack_file:write(id or "?", "\n")
  end
end

function done(s, latency, requests)
  local statuses = {}
  local total_sent = 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    for code, n in pairs(thread:get("status_counts")) do
      statuses[code] = (statuses[code] or 0) + n
    end
  end
  local status_parts = {}
  for code, n in pairs(statuses) do
    table.insert(status_parts, string.format('"%d":%d', code, n))
  end
  local pct = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    table.insert(pct, string.format('"%s":%d', tostring(p), latency:percentile(p)))
  end
  io.write(string.format(
    'WRKJSON {"sent":%d,"statuses":{%s},"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,%s}}\n',
    total_sent, table.concat(status_parts, ","), s.requests, s.duration, s.bytes,
    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout,
    latency.mean, latency.max, table.concat(pct, ",")))
end
