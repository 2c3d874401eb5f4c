-- KEMI routing script for Kamailio's app_lua (Lua 5.1), with the cxoauth Lua module.
--
-- Kamailio runs this file in the main process before it forks (child_init for PROC_INIT) and
-- again, in a new Lua state, in every worker. cxoauth.shared() makes the client on the first
-- run (in the main process) and hands the same native client to every later run: the workers
-- inherit it through fork() and share its token. The file token cache (token_cache in the
-- config) makes all workers use one token: after a revocation, one worker fetches the new one.
--
-- A request whose R-URI has a user part is looked up with GET /api/v2/echo/lookup/<user> and
-- answered 200 with X-Lookup (the API's result) and X-Worker (this worker's pid); an API
-- error status is answered 502, a failed call (timeout, network, ...) 504/503 with X-Error.
-- Requests without a user part (keep-alive OPTIONS) get 200 without an API call.
local cxoauth = require "cxoauth"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local CONFIG_FILE = os.getenv("CXOAUTH_KAMAILIO_CONFIG") or "/etc/kamailio/cxoauth.json"
-- The library's log lines go to Kamailio's log (drained after each request: the library logs
-- from its own threads, where no Lua state may be entered). 0 off .. 4 debug.
local LOG_LEVEL = tonumber(os.getenv("CXOAUTH_LOG_LEVEL") or "2")

local client, created = cxoauth.shared("kamailio", read_file(CONFIG_FILE))
if not client then
  error("cxoauth: " .. tostring(created)) -- a config error stops Kamailio at start
end
if created then
  cxoauth.set_log_level(LOG_LEVEL)
end

local KSR_LEVELS = { "err", "warn", "info", "dbg" }

local function drain_log()
  local lines, dropped = cxoauth.take_log()
  for _, l in ipairs(lines) do
    KSR.log(KSR_LEVELS[l.level] or "dbg", "cxoauth: " .. l.message .. "\n")
  end
  if dropped > 0 then
    KSR.log("warn", "cxoauth: " .. dropped .. " log lines dropped\n")
  end
end

local function reply(code, reason, headers)
  for name, value in pairs(headers or {}) do
    KSR.hdr.append_to_reply(name .. ": " .. value .. "\r\n")
  end
  KSR.sl.send_reply(code, reason)
end

function ksr_request_route()
  local user = KSR.pv.get("$rU")
  local worker = tostring(KSR.pv.get("$pp"))
  if user == nil or user == "" then
    reply(200, "OK", { ["X-Worker"] = worker })
    drain_log()
    return 1
  end
  local r, err = client:request("GET", "/api/v2/echo/lookup/" .. user,
    { ["X-Call-Id"] = KSR.pv.get("$ci") or "" })
  if r and r.status == 200 then
    -- the echo API answers with the path it served: that is the "lookup result" here
    local target = r.body:match('"path":"([^"]*)"') or ""
    reply(200, "OK", { ["X-Lookup"] = target, ["X-Worker"] = worker })
  elseif r then
    reply(502, "API Status " .. r.status, { ["X-Worker"] = worker })
  else
    KSR.log("err", "cxoauth: lookup failed: " .. tostring(err) .. "\n")
    reply(err.name == "TIMEOUT" and 504 or 503, "API " .. err.name,
      { ["X-Error"] = err.name, ["X-Worker"] = worker })
  end
  drain_log()
  return 1
end
