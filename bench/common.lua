-- common.lua: what the Lua contenders share (Lua 5.1 and 5.4). Loaded with dofile.
-- Environment: BENCH_URL (base URL), BENCH_TOKEN (bearer token, for the non-podero
-- contenders), BENCH_CLIENT_ID / BENCH_CLIENT_SECRET (for podero).
local socket = require("socket")
local os_clock = os.clock

local M = {}

M.url = assert(os.getenv("BENCH_URL"), "BENCH_URL not set")
M.token = os.getenv("BENCH_TOKEN")
M.client_id = os.getenv("BENCH_CLIENT_ID") or "sandbox-client"
M.client_secret = os.getenv("BENCH_CLIENT_SECRET") or "sandbox-secret"

-- refs file: one "org user heat_pump" per line; returns n refs cycling over the file.
function M.refs(path, n)
  local all = {}
  for line in io.lines(path) do
    local o, u, h = line:match("^(%S+)%s+(%S+)%s+(%S+)")
    if o then all[#all + 1] = { o, u, h } end
  end
  assert(#all > 0, "no refs in " .. path)
  local out = {}
  for i = 1, n do out[i] = all[(i - 1) % #all + 1] end
  out.warm = all[1]   -- the warm-up request (also when n is 0)
  return out
end

function M.path(r)
  return "/api/partners/v2.0/org/" .. r[1] .. "/users/" .. r[2] .. "/heat-pumps/" .. r[3]
end

M.now = socket.gettime
M.cpu = os_clock

-- counts what the three reads gave, so the contenders can be checked against each other
function M.tally()
  local st = { ok = 0, temps = 0, email_bytes = 0 }
  return st, function(status, temp, email)
    if status == "ok" then st.ok = st.ok + 1 end
    if temp ~= nil and type(temp) ~= "userdata" then st.temps = st.temps + 1 end
    st.email_bytes = st.email_bytes + #email
  end
end

function M.report(name, n, wall, cpu, st)
  io.write(string.format("RESULT name=%s n=%d wall=%.6f cpu=%.6f ok=%d temps=%d email_bytes=%d\n",
    name, n, wall, cpu, st.ok, st.temps, st.email_bytes))
end

function M.na(name, why)
  io.write(string.format("RESULT name=%s na=1 why=%s\n", name, (why:gsub("%s", "_"))))
end

return M
