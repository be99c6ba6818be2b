-- Helpers shared by the hardening specs (90-94): the sandbox's extra listeners (TLS and the
-- hostile server, see sandbox/README.md "TLS" and "Hostile server"), subprocesses, memory.
local support = require("support")
local cjson = require("cjson")

local M = {}

function M.dir()
  local d = os.getenv("PODERO_SANDBOX_DIR")
  if not d or d == "" then error("PODERO_SANDBOX_DIR is not set", 2) end
  return d
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The content of DIR/<name> (a URL file), without the newline; nil when absent.
function M.sandbox_file(name)
  local s = M.read_file(M.dir() .. "/" .. name)
  return s and (s:gsub("%s+$", ""))
end

function M.ca_file() return M.dir() .. "/ca.pem" end
function M.hostile_url() return M.sandbox_file("hostile_url") end

-- true when the sandbox was started with its TLS and hostile listeners
function M.have_extras()
  return M.sandbox_file("tls_url") ~= nil and M.sandbox_file("hostile_url") ~= nil
end

function M.hostile_log()
  local body, status = support.curl("/_hostile/log", { url = M.hostile_url() .. "/_hostile/log" })
  assert(status == 200, "hostile log answered " .. tostring(status))
  return cjson.decode(body)
end

function M.hostile_clear()
  local _, status = support.curl("", { url = M.hostile_url() .. "/_hostile/clear", method = "POST" })
  assert(status == 200)
end

-- The repository root (this file is spec/servers/hardening.lua).
function M.repo_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local root = src:match("^(.*)/spec/servers/[^/]*$")
  if not root or root == "" then root = "." end
  return root
end

-- Runs a Lua script in a child process, with the suite's interpreter (lua5.4 or luajit), with extra environment; returns stdout, ok.
-- env: { NAME = value } prepended as NAME='value'.
function M.run_lua(script, env)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(script)
  f:close()
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. support.shell_quote(v) end
  local cmd = table.concat(parts, " ") .. " timeout 60 " .. support.LUA_BIN .. " " .. support.shell_quote(tmp) .. " 2>&1"
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local ok = p:close()
  os.remove(tmp)
  return out, ok
end

-- Resident set size of this process in KiB (Linux).
function M.rss_kib()
  local s = M.read_file("/proc/self/status") or ""
  return tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

-- A TCP port on 127.0.0.1 on which nothing listens (bound, then closed).
function M.closed_port()
  local socket = require("socket")
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

return M
