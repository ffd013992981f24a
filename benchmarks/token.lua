-- wrk script: POST /wink/token as 16 different users in turn.
local n = 0
function request()
  n = n + 1
  return wrk.format("POST", nil, {["X-User"] = "bench-user-" .. (n % 16)}, "")
end
