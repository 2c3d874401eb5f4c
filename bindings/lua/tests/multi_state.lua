-- The Lua side of multi_state.c: loaded into every lua_State the host makes (one per OS
-- thread); returns the roles the host calls by name with a params table. Globals set by the
-- host: CPATH (the module built for this Lua version), PORT, SECRET, M (requests per state),
-- and `host` (halfway / wait_halfway: the phase gate between the threads).
package.cpath = CPATH .. ";" .. package.cpath
local cxoauth = require "cxoauth"

local BASE = "http://127.0.0.1:" .. PORT

local function config(p)
  local c = { token_url = BASE .. "/oauth/token", api_base = BASE, client_id = "test-client",
              client_secret = SECRET }
  if p.cache then c.token_cache = p.cache end
  return c
end

local function client(p)
  if p.shared then
    local c, created = cxoauth.shared(p.shared, config(p))
    return assert(c, created)
  end
  return assert(cxoauth.client(config(p)))
end

-- One token call and one request whose answer must be this state's own (never a body: it
-- echoes the Authorization header). Returns true or raises.
local function round(c, id, j)
  local tok, err = c:token()
  if not tok then error("token: " .. tostring(err), 0) end
  local tok2, exp = c:token_ex()
  if type(tok2) ~= "string" or type(exp) ~= "number" then error("token_ex: " .. tostring(exp), 0) end
  local path = string.format("/api/v2/echo/state%d/r%d", id, j)
  local r
  r, err = c:request("GET", path, { ["X-State"] = tostring(id) })
  if not r then error(path .. ": " .. tostring(err), 0) end
  if r.status ~= 200 then error(path .. ": status " .. r.status, 0) end
  if not r.body:find('"path":"' .. path .. '"', 1, true)
      or not r.body:find('"x-state":"' .. id .. '"', 1, true) then
    error(path .. ": the answer is not this state's request (" .. #r.body .. " bytes)", 0)
  end
  return true
end

-- This state's own module objects: the client metatable and the error metatable work here.
local function own_objects()
  local c = assert(cxoauth.client(config({})))
  assert(getmetatable(c) == "cxoauth.client", "client metatable")
  assert(c:close())
  local v, err = c:token()
  assert(v == nil and err.name == "CLOSED", "CLOSED error value")
  assert(tostring(err):find("^cxoauth CLOSED %(12%)"), "error metatable (__tostring)")
  assert(tostring(c) == "cxoauth.client (closed)", "client __tostring")
end

local roles = {}

-- M rounds, the gate after the first half (the closing state goes away there), the rest.
function roles.worker(p)
  own_objects()
  local c = client(p)
  local answered, half = 0, math.floor(M / 2)
  for j = 1, half do
    if round(c, p.id, j) then answered = answered + 1 end
  end
  host.halfway()
  for j = half + 1, M do
    if round(c, p.id, j) then answered = answered + 1 end
  end
  c = nil
  collectgarbage("collect")
  return answered
end

-- The log sink on (process-wide), before any state of a scenario makes a client: a shared
-- client's one token fetch is logged whichever state starts it.
function roles.log_on()
  cxoauth.set_log_level(4)
  return 0, 0
end

-- A state that turns the log sink on (again), uses its clients, waits until every worker is halfway,
-- then closes one client (not a shared one: the others use it); the host then lua_closes this
-- state, whose __gc drops the other (or its references to the shared client).
function roles.closer(p)
  cxoauth.set_log_level(4)
  local c = client(p)
  local dropped = client(p) -- left for __gc at lua_close
  round(c, p.id, 1)
  round(dropped, p.id, 2)
  host.wait_halfway()
  if not p.shared then assert(c:close()) end
  return 2
end

-- The log lines queued by the library since the sink was turned on; turns it off. Returns
-- the number of lines and the number of them holding the secret (must be 0).
function roles.drain()
  local lines = cxoauth.take_log()
  cxoauth.set_log_level(0)
  local leaks = 0
  for _, l in ipairs(lines) do
    if l.message:find(SECRET, 1, true) then leaks = leaks + 1 end
  end
  return #lines, leaks
end

-- shared(name): the client and whether this call made it, and its token.
function roles.shared_token(p)
  local c, created = cxoauth.shared(p.shared, config(p))
  if not c then error("shared: " .. tostring(created), 0) end
  round(c, p.id, 1)
  return (assert(c:token())), created and 1 or 0
end

function roles.shared_close(p)
  return cxoauth.shared_close(p.shared) and 1 or 0
end

return roles
