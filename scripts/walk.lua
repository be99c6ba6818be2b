-- The random walk's runner (make walk): runs spec/walk.lua for each seed against the sandbox at
-- PODERO_SANDBOX_URL and prints "ok"/"not ok" per seed, then "N passed, N failed".
-- Env: PODERO_WALK_SEED (one seed: a replay), PODERO_WALK_SEEDS (a list), PODERO_WALK_STEPS
-- (steps per seed), PODERO_WALK_LIGHT=1 (half as many batch steps: valgrind).
local walk = require("walk")
local socket = require("socket")

local url = assert(os.getenv("PODERO_SANDBOX_URL"), "PODERO_SANDBOX_URL is not set")
local seeds = {}
if os.getenv("PODERO_WALK_SEED") and os.getenv("PODERO_WALK_SEED") ~= "" then
  seeds[1] = assert(tonumber(os.getenv("PODERO_WALK_SEED")), "PODERO_WALK_SEED must be a number")
else
  for s in (os.getenv("PODERO_WALK_SEEDS") or ""):gmatch("%d+") do seeds[#seeds + 1] = tonumber(s) end
  if #seeds == 0 then
    -- fixed seeds, so that CI is repeatable, and one new each run, so that walks explore
    seeds = { 1, 2, 3, os.time() % 1000000 }
  end
end
local steps = tonumber(os.getenv("PODERO_WALK_STEPS") or "") or 600
local light = os.getenv("PODERO_WALK_LIGHT") == "1"
local interp = rawget(_G, "jit") and jit.version or _VERSION

local passed, failed = 0, 0
for i, seed in ipairs(seeds) do
  io.stdout:write(("# walk: seed %d, %d steps, %s%s\n"):format(seed, steps, interp, light and ", light" or ""))
  io.stdout:flush()
  local t0 = socket.gettime()
  local ok, report = walk.run({
    base_url = url, seed = seed, steps = steps, tcp = socket.tcp, light = light,
    max_batch = 300, check_counts = true, sleep = socket.sleep,
  })
  if ok then
    passed = passed + 1
    print(("ok %d - %s (%.1f s)"):format(i, report, socket.gettime() - t0))
  else
    failed = failed + 1
    print(("not ok %d - %s"):format(i, (report:gsub("\n", "\n# "))))
  end
  io.stdout:flush()
end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1, true) -- close the state: every __gc runs (valgrind sees no leftovers)
