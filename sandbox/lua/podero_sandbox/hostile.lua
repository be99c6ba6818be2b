-- The hostile test server: a separate loopback listener (DIR/hostile_url, port P+5) that
-- misbehaves on purpose, for the transport tests. Its behaviour is chosen by the first path
-- segment, so a client pointed at base_url = <hostile_url>/<mode>[/<arg>] gets that mode for
-- every request (the API path follows). Everything here is bounded in time: no handler
-- lives longer than about 60 s, and every one stops when the client goes away.
--
--   /_hostile/log          GET: every request seen so far (oldest first) as a JSON array of
--                          {"t":<ngx.now()>,"method":..,"uri":..,"host":..,"authorization":..}
--   /_hostile/clear        POST: empties that log and forgets the "once" modes
--   /<mode>/once/...       the stall, stallbody, drip, short, declared and endless modes misbehave
--                          only for the first request after a clear; later requests get
--                          200 {"hostile":"ok", ...} (to check that a client still works
--                          afterwards; the fields a heat pump answer requires, and no id)
--   /capture/...           200 {"captured":true} (a redirect target that records what it gets)
--   /status/<code>/...     answers <code> with {"detail":"hostile <code>"}
--   /retry/<mode>/...      429 with a Retry-After of the mode: date_future (now + 1 s, HTTP
--                          date), date_past, negative (-5), garbage, empty, fraction (1.5),
--                          repeated (two headers: 1 and 1000), huge (20 digits), spaces (" 1 ")
--   /bigdetail/<code>/<n>  answers <code> with {"detail":"<n bytes of text>"}
--   /stall/...             reads the request and never answers (until the client leaves, max 60 s)
--   /stallbody/...         status line and headers (Content-Length 1000), 10 body bytes, then nothing
--   /drip/...              headers (Content-Length 100), then one body byte per second
--   /short/...             headers with Content-Length 5000, 100 body bytes, then closes
--   /declared/...          headers with Content-Length 1 GiB, then waits 5 s before any body byte
--   /endless/...           chunked, 64 KiB chunks of a JSON string, until the client leaves
--                          (max 60 s / 4 GiB)
local J = require("podero_sandbox.json")

local M = {}

local dict = ngx.shared.hostile

local function log_request()
  local h = ngx.req.get_headers(100)
  local auth = h["authorization"]
  if type(auth) == "table" then auth = table.concat(auth, ", ") end
  local e = J.obj()
    :add("t", ngx.now())
    :add("method", ngx.req.get_method())
    :add("uri", ngx.var.request_uri)
    :add("host", h["host"] or "")
    :add("authorization", auth or "")
  dict:rpush("log", J.encode(e))
end

local function json_answer(status, body, extra)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  for k, v in pairs(extra or {}) do ngx.header[k] = v end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.OK)
end

-- The raw downstream socket (HTTP/1.x only): full control over the bytes sent.
local function raw()
  ngx.req.read_body()
  local sock, err = ngx.req.socket(true)
  if not sock then
    ngx.log(ngx.ERR, "hostile: no raw socket: ", err)
    return ngx.exit(500)
  end
  sock:settimeout(5000)
  return sock
end

local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


local RETRY_AFTER = {
  date_future = function() return ngx.http_time(ngx.time() + 1) end,
  date_past = function() return ngx.http_time(ngx.time() - 3600) end,
  negative = function() return "-5" end,
  garbage = function() return "soon, maybe" end,
  empty = function() return "" end,
  fraction = function() return "1.5" end,
  repeated = function() return { "1", "1000" } end,
  huge = function() return "99999999999999999999" end,
  spaces = function() return " 1 " end,
}

local handlers = {}

handlers.capture = function()
  return json_answer(200, '{"captured":true}')
end

handlers.status = function(code)
  code = tonumber(code) or 500
  return json_answer(code, '{"detail":"hostile ' .. code .. '"}')
end

handlers.retry = function(mode)
  local f = RETRY_AFTER[mode]
  if not f then return json_answer(400, '{"detail":"unknown retry mode"}') end
  return json_answer(429, '{"detail":"slow down"}', { ["Retry-After"] = f() })
end

handlers.bigdetail = function(code, n)
  code, n = tonumber(code) or 400, math.min(tonumber(n) or 100000, 10000000)
  return json_answer(code, '{"detail":"' .. string.rep("d", n) .. '"}')
end

local function on_abort() ngx.exit(499) end

handlers.stall = function()
  ngx.req.read_body()
  ngx.on_abort(on_abort)   -- lua_check_client_abort: ends this handler when the client leaves
  ngx.sleep(60)
  return ngx.exit(444)
end

handlers.stallbody = function()
  local sock = raw()
  sock:send(HEAD .. "Content-Length: 1000\r\n\r\n" .. '{"a":"xxxx')
  for _ = 1, 300 do
    ngx.sleep(0.2)
    -- a write to a peer that left fails: then stop
    local ok = sock:send("")
    if not ok then break end
  end
  return ngx.exit(444)
end

handlers.drip = function()
  local sock = raw()
  local ok = sock:send(HEAD .. "Content-Length: 100\r\n\r\n")
  for _ = 1, 60 do
    if not ok then break end
    ngx.sleep(1)
    ok = sock:send("x")
  end
  return ngx.exit(444)
end

handlers.short = function()
  local sock = raw()
  sock:send(HEAD .. "Content-Length: 5000\r\n\r\n" .. '{"a":"' .. string.rep("x", 94))
  return ngx.exit(444)
end

handlers.declared = function()
  local sock = raw()
  local ok = sock:send(HEAD .. "Content-Length: 1073741824\r\n\r\n")
  if ok then ngx.sleep(5) end
  if ok then sock:send('{"a":"' .. string.rep("x", 1000)) end
  return ngx.exit(444)
end

handlers.endless = function()
  local sock = raw()
  local chunk = string.rep("x", 65536)
  local frame = string.format("%x\r\n%s\r\n", #chunk, chunk)
  local ok = sock:send(HEAD .. "Transfer-Encoding: chunked\r\n\r\n" .. string.format("6\r\n%s\r\n", '{"a":"'))
  local t0, sent = ngx.now(), 0
  while ok and ngx.now() - t0 < 60 and sent < 4 * 1024 * 1024 * 1024 do
    ok = sock:send(frame)
    sent = sent + #chunk
  end
  dict:set("endless_sent", sent)
  return ngx.exit(444)
end

function M.handle()
  local uri = ngx.var.uri
  if uri == "/_hostile/log" then
    local n = dict:llen("log") or 0
    local out = {}
    for i = 1, n do
      local v = dict:lpop("log")
      out[i] = v
    end
    for i = 1, n do dict:rpush("log", out[i]) end
    return json_answer(200, "[" .. table.concat(out, ",") .. "]")
  elseif uri == "/_hostile/clear" then
    dict:flush_all()
    return json_answer(200, '{"ok":true}')
  elseif uri == "/_hostile/stats" then
    return json_answer(200, '{"endless_sent":' .. (dict:get("endless_sent") or 0) .. '}')
  end
  log_request()
  local mode, a, b = uri:match("^/([%w_]+)/?([^/]*)/?([^/]*)")
  local h = handlers[mode or ""]
  if not h then return json_answer(404, '{"detail":"no such hostile mode"}') end
  if a == "once" and not dict:add("once:" .. mode, true) then
    return json_answer(200, '{"hostile":"ok","connection_status":"ok","monitoring_status":"ok",'
      .. '"steering_status":"ok","device_model":null,"owner":{},'
      .. '"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}')
  end
  return h(a, b)
end

return M
