-- wrk script: POST pre-signed Smile webhooks, each body once, from a file of "signature body" lines.
local bodies, signatures = {}, {}
local path = os.getenv("WINK_BENCH_BODIES")
for line in io.lines(path) do
  local space = line:find(" ")
  signatures[#signatures + 1] = line:sub(1, space - 1)
  bodies[#bodies + 1] = line:sub(space + 1)
end

counter = 1  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Each run starts where the previous one stopped, so every stored event is a new one.
  counter = tonumber(os.getenv("WINK_BENCH_START") or "0") + offset + 1
  stride = tonumber(os.getenv("WINK_BENCH_THREADS") or "2")
end

function request()
  local i = counter
  counter = counter + stride
  if i > #bodies then i = ((i - 1) % #bodies) + 1 end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Smile-Signature"] = signatures[i]}, bodies[i])
end

function done(summary, latency, requests)
  -- Tell the caller how far into the bodies the threads went, so the next run starts after.
  local furthest = 0
  for _, thread in ipairs(threads) do
    local reached = thread:get("counter")
    if reached and reached > furthest then furthest = reached end
  end
  io.write(string.format("bodies-used-up-to %d\n", furthest))
end
