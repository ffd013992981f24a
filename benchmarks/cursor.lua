-- Shared by the wrk scripts (dofile'd): each thread hands out item numbers in order from
-- WINK_BENCH_START, every WINK_BENCH_THREADS-th one, round again past the end; done() says how
-- far the threads went, so the next run starts after.
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

-- The next item's number among n.
function next_item(n)
  local i = counter
  counter = counter + stride
  if i > n then i = ((i - 1) % n) + 1 end
  return i
end

function done(summary, latency, requests)
  local furthest = 0
  for _, thread in ipairs(threads) do
    local reached = thread:get("counter")
    if reached and reached > furthest then furthest = reached end
  end
  io.write(string.format("bodies-used-up-to %d\n", furthest))
end
