-- The handlers of examples/openresty/nginx.conf: one heat pump as a small HTML status page
-- (GET /) and as JSON (GET /heat-pump.json). ?org=&user=&id= pick another heat pump.
local podero = require("podero")
local cjson = require("cjson")

local _M = {}

-- made once per worker, at first use; it holds no connection (fork-safe), and serves every
-- concurrent request of the worker. The token is shared by all workers (token_cache).
local client

local function get_client()
  if not client then
    client = podero.new({
      base_url = os.getenv("PODERO_BASE_URL"),
      client_id = os.getenv("PODERO_CLIENT_ID"),
      client_secret = os.getenv("PODERO_CLIENT_SECRET"),
      token_cache = ngx.shared.podero_tokens,
      timeout = 10,
    })
  end
  return client
end

local function ids()
  local a = ngx.req.get_uri_args()
  return a.org or os.getenv("PODERO_ORG_ID"), a.user or os.getenv("PODERO_USER_ID"),
         a.id or os.getenv("PODERO_HEAT_PUMP_ID")
end

local function esc(v)
  if v == nil then return "&ndash;" end
  return (tostring(v):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

-- a bad id raises (podero checks ids before sending): answer 400 instead of 500
local function fetch()
  local org, user, id = ids()
  local ok, hp, err = pcall(get_client().heat_pump, get_client(), org, user, id)
  if not ok then return nil, 400, tostring(hp) end
  if not hp then
    local status = (err.kind == "http" and err.status == 404) and 404 or 502
    return nil, status, tostring(err)
  end
  return hp
end

function _M.json()
  ngx.header["Content-Type"] = "application/json"
  local hp, status, msg = fetch()
  if not hp then
    ngx.status = status
    return ngx.say(cjson.encode({ error = msg }))
  end
  -- never serve what podero read unredacted: actions carry cue secrets, embeddable_url a token
  ngx.say(cjson.encode(podero.redact(hp)))
end

function _M.html()
  ngx.header["Content-Type"] = "text/html; charset=utf-8"
  local hp, status, msg = fetch()
  if not hp then
    ngx.status = status
    return ngx.say("<!doctype html><meta charset=utf-8><title>podero</title><p>", esc(msg), "</p>")
  end
  local model = hp.device_model
  local rows = {
    { "Model", model and ((model.manufacturer or "?") .. " " .. (model.model or "")) or "unknown" },
    { "Connection", hp.connection_status },
    { "Steering", hp.steering_status },
    { "Indoor", hp.indoor_actual_temperature and hp.indoor_actual_temperature .. " °C" },
    { "Outdoor", hp.outdoor_temperature and hp.outdoor_temperature .. " °C" },
    { "Power", hp.current_power_consumption_w and hp.current_power_consumption_w .. " W" },
    { "Paused until", hp.pause_power_until },
    { "Owner", hp.owner and hp.owner.email },
    { "Updated", hp.updated_at },
  }
  local out = { "<!doctype html><meta charset=utf-8><title>Heat pump ", esc(hp.id), "</title>",
    "<style>body{font:15px system-ui;margin:2em}td{padding:.2em 1em .2em 0}th{text-align:left;padding-right:1em}</style>",
    "<h1>Heat pump</h1><p><code>", esc(hp.id), "</code></p><table>" }
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr><th>" .. esc(r[1]) .. "</th><td>" .. esc(r[2]) .. "</td></tr>"
  end
  out[#out + 1] = "</table><h2>Pending actions</h2><ul>"
  local n = 0
  for _, a in podero.ipairs(hp.actions) do
    n = n + 1
    out[#out + 1] = "<li>" .. esc(a.code) .. (a.metadata and a.metadata.message and ": " .. esc(a.metadata.message) or "") .. "</li>"
  end
  if n == 0 then out[#out + 1] = "<li>none</li>" end
  out[#out + 1] = "</ul><p><a href=\"/heat-pump.json?" .. esc(ngx.var.args or "") .. "\">JSON</a></p>"
  ngx.say(table.concat(out))
end

return _M
