-- wrk script for bench/run.sh. OWB_BENCH_MODE picks the request:
--   healthz       GET /healthz
--   setup-server  POST /v1/setup/{id}, server-sealed (claim, app_key, installer token)
--   setup-app     POST /v1/setup/{id}, app-sealed (claim, wifi blob)
--   checkin       POST /v1/devices/{id}/checkin, each line of checkins.txt once
-- OWB_BENCH_DIR holds owb-bench-prep's files; OWB_BENCH_TOKEN the installer token.
local mode = os.getenv("OWB_BENCH_MODE") or "healthz"
local dir = os.getenv("OWB_BENCH_DIR")
local targets, lines, next_line = {}, {}, 1
local app_key

local threads = {}
function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local n = thread_no or 1
  math.randomseed(n * 7919)
  wrk.headers["Content-Type"] = "application/json"
  if mode == "healthz" then
    wrk.method, wrk.path = "GET", "/healthz"
    return
  end
  wrk.method = "POST"
  if mode == "checkin" then
    -- Every thread takes its own lines: a nonce is sent once.
    local i, nthreads = 0, tonumber(os.getenv("OWB_BENCH_THREADS") or "2")
    for line in io.lines(dir .. "/checkins.txt") do
      if i % nthreads == n - 1 then
        local path, body = line:match("^(%S+) (.+)$")
        lines[#lines + 1] = wrk.format(nil, path, nil, body)
      end
      i = i + 1
    end
    return
  end
  for line in io.lines(dir .. "/app_key.txt") do app_key = line end
  for line in io.lines(dir .. "/targets.txt") do
    local id, claim, wifi = line:match("^(%S+) (%S+) (%S+)$")
    targets[#targets + 1] = { id, claim, wifi }
  end
  if mode == "setup-server" then
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("OWB_BENCH_TOKEN")
  end
end

function request()
  if mode == "healthz" then
    return wrk.format()
  elseif mode == "checkin" then
    local r = lines[next_line]
    next_line = next_line + 1
    if next_line > #lines then next_line = 1 end -- past the end: replays, counted as errors
    return r
  end
  local t = targets[math.random(#targets)]
  local body
  if mode == "setup-server" then
    body = '{"claim":"' .. t[2] .. '","app_key":"' .. app_key .. '"}'
  else
    body = '{"claim":"' .. t[2] .. '","wifi":"' .. t[3] .. '"}'
  end
  return wrk.format(nil, "/v1/setup/" .. t[1], nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wrk_result rps=%.1f requests=%d p50_ms=%.3f p99_ms=%.3f p90_ms=%.3f p999_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(90) / 1000, latency:percentile(99.9) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
