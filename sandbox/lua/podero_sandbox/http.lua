-- Response helpers. A response is {status=, headers={name=value}, body=string}.
local J = require("podero_sandbox.json")
local M = {}

M.JSON = "application/json; charset=utf-8"

function M.json(status, value, headers)
  local h = { ["Content-Type"] = M.JSON }
  for k, v in pairs(headers or {}) do h[k] = v end
  return { status = status, headers = h, body = type(value) == "string" and value or J.encode(value) }
end

function M.detail(status, msg, headers)
  return M.json(status, J.obj():add("detail", msg), headers)
end

-- send a complete response with Content-Length
function M.send(resp)
  ngx.status = resp.status
  for k, v in pairs(resp.headers or {}) do ngx.header[k] = v end
  local body = resp.body or ""
  ngx.header["Content-Length"] = #body
  if body ~= "" and ngx.req.get_method() ~= "HEAD" then ngx.print(body) end
  return ngx.exit(ngx.OK)
end

-- read the request body (nil if none); handles bodies buffered to a temp file
function M.read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local file = ngx.req.get_body_file()
  if file then
    local f = io.open(file, "rb")
    if f then
      body = f:read("*a")
      f:close()
      return body
    end
  end
  return nil
end

-- lower-case media type without parameters ("" if none)
function M.media_type()
  local ct = ngx.var.content_type
  if not ct then return "" end
  return (ct:match("^%s*([^;%s]+)") or ""):lower()
end

return M
