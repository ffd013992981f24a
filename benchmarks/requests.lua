-- wrk script: requests whose headers come from a file, one line per request: "Name: value"
-- pairs separated by tabs (an empty line: no headers). WINK_BENCH_METHOD is the method.
-- Lines are handed out in order from WINK_BENCH_START, each once while they last (new users),
-- then round again (a file of a few lines: the same returning users over and over).
local method = os.getenv("WINK_BENCH_METHOD") or "POST"
local lines = {}
for line in io.lines(os.getenv("WINK_BENCH_LINES")) do
  local headers = {}
  for pair in line:gmatch("[^\t]+") do
    local colon = pair:find(":")
    headers[pair:sub(1, colon - 1)] = pair:sub(colon + 2)
  end
  lines[#lines + 1] = headers
end

counter = 1  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = tonumber(os.getenv("WINK_BENCH_START") or "0") + offset + 1
  stride = tonumber(os.getenv("WINK_BENCH_THREADS") or "2")
end

function request()
  local i = counter
  counter = counter + stride
  if i > #lines then i = ((i - 1) % #lines) + 1 end
  local body = nil
  if method == "POST" then body = "" end
  return wrk.format(method, nil, lines[i], body)
end

function done(summary, latency, requests)
  local furthest = 0
  for _, thread in ipairs(threads) do
    local reached = thread:get("counter")
    if reached and reached > furthest then furthest = reached end
  end
  io.write(string.format("bodies-used-up-to %d\n", furthest))
end
