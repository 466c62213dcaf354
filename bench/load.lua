-- One wrk run, written by bench/load.py, which fills in the dollar placeholders first.
-- Each connection goes round the prepared requests from its own place (or
-- makes a fresh email for every request), counts the answers by status,
-- and counts the completions that fall inside the counting window.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local now_buffer = ffi.new("bench_timespec")

-- CLOCK_MONOTONIC (1) is the clock of Python's time.monotonic(), so the
-- window is in the seconds of the script that wrote this file.
local function now()
  ffi.C.clock_gettime(1, now_buffer)
  return tonumber(now_buffer.tv_sec) + tonumber(now_buffer.tv_nsec) * 1e-9
end

local METHOD, PATH = $method, $path
local COOKIES = {$cookies}
local FORMS = {$forms}
local FRESH_EMAILS = $fresh_emails
local HAS_FORM = $has_form
local WINDOW_START, WINDOW_END = $window_start, $window_end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("worker", #threads)
end

local function headers_for(index)
  local headers = {}
  if #COOKIES > 0 then
    headers["Cookie"] = "session_id=" .. COOKIES[index % #COOKIES + 1]
  end
  if HAS_FORM then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return headers
end

function init(args)
  -- Globals of this thread; done() reads them with thread:get().
  counted, number, statuses = 0, 0, {}
  prepared = {}
  for index = 0, math.max(#COOKIES, #FORMS, 1) - 1 do
    local body = nil
    if #FORMS > 0 then body = FORMS[index % #FORMS + 1] end
    prepared[index + 1] = wrk.format(METHOD, PATH, headers_for(index), body)
  end
end

function request()
  number = number + 1
  if FRESH_EMAILS ~= "" then
    local body = string.format("email=%s-%d-%d%%40$domain&password=$password",
                               FRESH_EMAILS, worker, number)
    return wrk.format(METHOD, PATH, headers_for(0), body)
  end
  return prepared[(number + worker * 7919) % #prepared + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local t = now()
  if t >= WINDOW_START and t < WINDOW_END then counted = counted + 1 end
end

function done(summary, latency, requests)
  local in_window, sent, totals = 0, 0, {}
  for _, thread in ipairs(threads) do
    in_window = in_window + thread:get("counted")
    sent = sent + thread:get("number")
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "sent": %d, "in_window": %d, "statuses": {%s}, ' ..
    '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, sent, in_window, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
