-- wrk script: POST pre-signed Smile webhooks, each body once, from a file of "signature body" lines.
-- Each run starts where the previous one stopped (cursor.lua), so every stored event is a new one.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "cursor.lua")

local bodies, signatures = {}, {}
local path = os.getenv("WINK_BENCH_BODIES")
for line in io.lines(path) do
  local space = line:find(" ")
  signatures[#signatures + 1] = line:sub(1, space - 1)
  bodies[#bodies + 1] = line:sub(space + 1)
end

function request()
  local i = next_item(#bodies)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Smile-Signature"] = signatures[i]}, bodies[i])
end
