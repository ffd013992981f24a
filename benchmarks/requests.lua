-- wrk script: requests whose headers come from a file, one line per request: "Name: value"
-- pairs separated by tabs (an empty line: no headers). WINK_BENCH_METHOD is the method.
-- Lines are handed out in order from WINK_BENCH_START (cursor.lua), each once while they last
-- (new users), then round again (a file of a few lines: the same returning users over and over).
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "cursor.lua")

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

function request()
  local i = next_item(#lines)
  local body = nil
  if method == "POST" then body = "" end
  return wrk.format(method, nil, lines[i], body)
end
