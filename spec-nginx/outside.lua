-- The same error cases as podero_spec.lua's /kind, outside nginx (lua5.4 + build/5.4), for the
-- "every error kind comes back the same inside nginx" comparison.
--   lua5.4 spec-nginx/outside.lua BASE_URL CLOSED_URL CASE   -> one JSON line
local cjson = require("cjson")
local podero = require("podero")
local base, closed, case = arg[1], arg[2], arg[3]
local ID, SECRET = "sandbox-client", "sandbox-secret"
local ORG = "c871d975-416e-4563-b526-5e1fc9c9e070"
local USER = "19c004ae-e335-471e-a7dc-909929f8b8e2"
local HP = "a82312a9-0252-415b-bc53-6146aff3f3af"
local MISSING = "00000000-0000-4000-8000-000000000000"
local CASES = {
  network = { base_url = closed, client_id = ID, client_secret = SECRET, max_retries = 0 },
  timeout = { base_url = base, client_id = ID, client_secret = SECRET, timeout = 0.3, max_retries = 0 },
  http = { base_url = base, client_id = ID, client_secret = SECRET },
  unauthorized = { base_url = base, client_id = ID, client_secret = SECRET },
  auth = { base_url = base, client_id = ID, client_secret = "wrong-secret" },
  decode = { base_url = base, client_id = ID, client_secret = SECRET, max_retries = 0 },
  too_large = { base_url = base, client_id = ID, client_secret = SECRET, max_response_bytes = 1000 },
  retry = { base_url = base, client_id = ID, client_secret = SECRET, retry_base_delay = 0.05 },
  static = { base_url = base, token = "not-a-valid-token" },
}
local c = podero.new(CASES[case])
local hp, err = c:heat_pump(ORG, USER, case == "http" and MISSING or HP)
if hp then print(cjson.encode({ ok = true, id = hp.id })) return end
print(cjson.encode({ kind = err.kind, status = err.status, attempts = err.attempts, message = err.message,
  retry_after = err.retry_after, text = tostring(err) }))
