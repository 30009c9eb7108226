-- wrk script shared by every scenario of bench/load.py.
--   WRK_METHOD  GET (default) or POST
--   WRK_PATHS   space-separated paths, requested in turn (default: the URL's path)
--   WRK_BODY    the urlencoded body of a POST
--   WRK_COOKIE  the Cookie header (a signed-in session)
--   WRK_MARK    a string whose presence in a body counts as a "mark" (a receipt)
--   WRK_KEY     if set, "&<WRK_KEY>=<unique>" is appended to each POST body (a form's
--               one-time submission key, as a browser sends a new one for each form)
-- Prints one line "WRKJSON {...}" with the status counts, marks and latency percentiles.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  statuses = {}
  marks = 0
  paths = {}
  for p in string.gmatch(os.getenv("WRK_PATHS") or "", "%S+") do
    table.insert(paths, p)
  end
  if #paths == 0 then table.insert(paths, wrk.path) end
  method = os.getenv("WRK_METHOD") or "GET"
  body = os.getenv("WRK_BODY")
  headers = {}
  local cookie = os.getenv("WRK_COOKIE")
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  mark = os.getenv("WRK_MARK")
  key = os.getenv("WRK_KEY")
  if key == "" then key = nil end
  stamp = tostring(os.time())
  counter = 0
end

function request()
  counter = counter + 1
  local path = paths[(counter - 1) % #paths + 1]
  local b = body
  if key then b = body .. "&" .. key .. "=wrk-" .. stamp .. "-" .. tid .. "-" .. counter end
  return wrk.format(method, path, headers, b)
end

function response(status, hdrs, resp)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if mark and resp and string.find(resp, mark, 1, true) then
    marks = marks + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  local all_marks = 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
    all_marks = all_marks + t:get("marks")
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "marks": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), all_marks,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
