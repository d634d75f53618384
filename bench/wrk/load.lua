-- wrk script of bench/run.py: one request kind per run, chosen by the arguments after "--":
--   mode   "id" (random seeded id), "list" (random 20-row page), "post" (a new record),
--          "paths" (a random line of the file named by query: bench/scale.py's requests)
--          or a fixed path such as "/healthz"; "warm-id" / "warm-list" request every id / page
--          once (one wrk thread), then exit wrk (a cache warm-up; it prints no summary)
--   count  ids to pick from (id) or pages to pick from (list)
--   token  makes POSTed ids unique across runs
--   key    the X-API-Key header
--   query  extra list query, e.g. "&include_total=true"
-- done() prints one "BENCH {json}" line that bench/run.py parses.

local mode, count, token, query
local headers, post_headers
local sent = 0
local next_index
local paths

function setup(thread)
  thread_index = (thread_index or 0) + 1
  thread:set("tid", thread_index)
end

function init(args)
  mode, count, token, query = args[1], tonumber(args[2]), args[3], args[5] or ""
  headers = { ["X-API-Key"] = args[4] }
  post_headers = { ["X-API-Key"] = args[4], ["Content-Type"] = "application/json" }
  math.randomseed(os.time() * 1000 + tid)
  next_index = 0
  if mode == "paths" then
    paths = {}
    for line in io.lines(query) do
      paths[#paths + 1] = line
    end
  end
end

local function list_path(page)
  return string.format("/api/v1/wdtests?page=%d&per_page=20%s", page, query)
end

function request()
  if mode == "warm-id" or mode == "warm-list" then
    local i = next_index
    next_index = next_index + 1
    if i >= count then
      -- wrk runs to its -d however early a thread stops; the requests in flight still complete
      -- on the server, so only their answers are lost.
      os.exit(0)
    elseif mode == "warm-id" then
      return wrk.format("GET", string.format("/api/v1/wdtests/b%07d", i), headers)
    end
    return wrk.format("GET", list_path(i + 1), headers)
  elseif mode == "id" then
    return wrk.format("GET", string.format("/api/v1/wdtests/b%07d", math.random(0, count - 1)), headers)
  elseif mode == "list" then
    return wrk.format("GET", list_path(math.random(1, count)), headers)
  elseif mode == "paths" then
    return wrk.format("GET", paths[math.random(1, #paths)], headers)
  elseif mode == "post" then
    sent = sent + 1
    local body = string.format('{"id":"p%s-%d-%d","name":"bench","age":%d}', token, tid, sent, sent % 100)
    return wrk.format("POST", "/api/v1/wdtests", post_headers, body)
  end
  return wrk.format("GET", mode, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    e.connect, e.read, e.write, e.status, e.timeout))
end
