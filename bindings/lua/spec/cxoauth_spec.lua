-- busted spec of the Lua module against the project's simulator (started by run-tests.sh,
-- which sets CXOAUTH_SIM_PORT and the client test-client / CXOAUTH_TEST_SECRET, and puts the
-- module built for this Lua version first on package.cpath).
local cxoauth = require "cxoauth"

local PORT = assert(os.getenv("CXOAUTH_SIM_PORT"), "CXOAUTH_SIM_PORT is not set")
local SECRET = assert(os.getenv("CXOAUTH_TEST_SECRET"), "CXOAUTH_TEST_SECRET is not set")
local BASE = "http://127.0.0.1:" .. PORT

local function config(extra)
  local c = {
    token_url = BASE .. "/oauth/token",
    api_base = BASE,
    client_id = "test-client",
    client_secret = SECRET,
  }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- The simulator's admin API, with curl (never through a proxy).
local function admin(method, path, body)
  local cmd = string.format("curl -sS --noproxy '*' -X %s %s %s/__admin/%s", method,
    body and ("-H 'Content-Type: application/json' --data '" .. body .. "'") or "", BASE, path)
  local f = assert(io.popen(cmd))
  local out = f:read("*a")
  f:close()
  return out
end

local function counter(name)
  return tonumber(admin("GET", "counters"):match('"' .. name .. '":(%d+)'))
end

describe("cxoauth (" .. _VERSION .. (jit and (", " .. jit.version) or "") .. ")", function()
  before_each(function() admin("POST", "reset") end)

  it("reports the library version and its config schema", function()
    assert.matches("^0%.2%.", cxoauth.version())
    local schema = cxoauth.config_schema()
    assert.is_table(schema.keys)
    assert.is_true(#schema.keys > 10)
  end)

  it("writes every key of the schema with the JSON type the schema gives it", function()
    -- The module passes keys through without knowing them: a key added to the core works at
    -- once; this checks that each type of the schema comes out as that JSON type.
    local samples = { string = "x", integer = 7, boolean = true, number = 0.75 }
    local wants = { string = '"x"', integer = "7", boolean = "true", number = "0.75" }
    local types = {}
    for _, key in ipairs(cxoauth.config_schema().keys) do
      types[key.type] = true
      local sample, want = samples[key.type], wants[key.type]
      if key.type == "object" then
        -- one sub-key at a time (a Lua table has no order), each with its own type
        assert.is_table(key.properties)
        assert.is_true(#key.properties > 0)
        for _, sub in ipairs(key.properties) do
          assert.is_not_nil(samples[sub.type], "schema type not handled by the module: " .. tostring(sub.type))
          local json = cxoauth.config_json({ [key.name] = { [sub.name] = samples[sub.type] } })
          assert.are.equal('{"' .. key.name .. '":{"' .. sub.name .. '":' .. wants[sub.type] .. "}}", json)
        end
      else
        assert.is_not_nil(sample, "schema type not handled by the module: " .. tostring(key.type))
        local json = cxoauth.config_json({ [key.name] = sample })
        assert.are.equal('{"' .. key.name .. '":' .. want .. "}", json)
      end
    end
    assert.is_true(types.number and types.object, "the schema has number and object keys")
  end)

  it("gives the library the number and object keys (gateway to the simulator)", function()
    local port = tonumber(PORT)
    local cfg = config({ refresh_at_fraction = 0.3, token_idle_timeout_s = 600, rate_limit_pacing = false,
                         gateway = { host = "127.0.0.1", protocol = "http", port = port } })
    cfg.token_url, cfg.api_base = nil, nil
    assert.matches('"refresh_at_fraction":0.3[,}]', cxoauth.config_json(cfg))
    local c = assert(cxoauth.client(cfg))
    assert.is_string(assert(c:token()))
    local r = assert(c:request("GET", "/api/v2/organizations/me"))
    assert.are.equal(200, r.status)
    c:close()
    local bad, err = cxoauth.client(config({ refresh_at_fraction = 0.99 }))
    assert.is_nil(bad)
    assert.are.equal("CONFIG", err.name)
    assert.matches("refresh_at_fraction", err.message, 1, true)
  end)

  it("passes a key unknown to the module through verbatim, for the library to judge", function()
    local c, err = cxoauth.client(config({ no_such_key_anywhere = 1 }))
    assert.is_nil(c)
    assert.are.equal("CONFIG", err.name)
    assert.are.equal(2, err.code)
    assert.matches("no_such_key_anywhere", err.message, 1, true)
  end)

  it("escapes strings and refuses arrays and deep nesting in the config", function()
    assert.are.equal('{"k":"a\\"b\\\\c\\u000a"}', cxoauth.config_json({ k = 'a"b\\c\n' }))
    assert.has_error(function() cxoauth.config_json({ k = { 1 } }) end)
    assert.has_error(function() cxoauth.config_json({ k = { s = { 1 } } }) end)
    assert.has_error(function() cxoauth.config_json({ a = { b = { c = { d = { e = { f = 1 } } } } } }) end)
    assert.has_error(function() cxoauth.client(42) end)
  end)

  it("gets a token from a table config and from a JSON string config", function()
    local c = assert(cxoauth.client(config()))
    local tok = assert(c:token())
    assert.is_string(tok)
    assert.is_true(#tok > 10)
    local json = cxoauth.config_json(config())
    local c2 = assert(cxoauth.client(json))
    assert.is_string(assert(c2:token()))
    c:close(); c2:close()
  end)

  it("token_ex gives the expiry in Unix ms", function()
    local c = assert(cxoauth.client(config()))
    local tok, exp = c:token_ex()
    assert.is_string(tok)
    assert.is_true(exp > os.time() * 1000)
    assert.is_true(exp < (os.time() + 2 * 86400) * 1000)
    c:close()
  end)

  it("sends requests with headers (map, arrays, lines) and a body", function()
    local c = assert(cxoauth.client(config()))
    local r = assert(c:request("POST", "/api/v2/echo/x?q=1",
      { ["X-One"] = "1", ["X-Many"] = { "a", "b" }, "X-Line: l" }, "hello\0body"))
    assert.are.equal(200, r.status)
    assert.matches('"method":"POST"', r.body, 1, true)
    assert.matches('"path":"/api/v2/echo/x"', r.body, 1, true)
    assert.matches('"x-one":"1"', r.body, 1, true)
    assert.matches('"x-many":"a, b"', r.body, 1, true)
    assert.matches('"x-line":"l"', r.body, 1, true)
    assert.matches('"body_len":10', r.body, 1, true)
    assert.is_string(r.headers["content-type"] or r.headers["Content-Type"])
    c:close()
  end)

  it("gives repeated response headers as an array", function()
    local c = assert(cxoauth.client(config()))
    local r = assert(c:request("GET", "/api/v2/organizations/me"))
    assert.are.equal(200, r.status)
    local cookies = r.headers["set-cookie"]
    assert.is_table(cookies)
    assert.are.equal(2, #cookies)
    c:close()
  end)

  it("returns an HTTP error status as a response, not as an error", function()
    local c = assert(cxoauth.client(config()))
    local r, err = c:request("GET", "/api/v2/no/such/thing")
    assert.is_nil(err)
    assert.are.equal(404, r.status)
    c:close()
  end)

  it("reports a rejected secret as nil, err with the OAuth details", function()
    local c = assert(cxoauth.client(config({ client_secret = "Wr0ngSecretValue" })))
    local tok, err = c:token()
    assert.is_nil(tok)
    assert.are.equal("AUTH", err.name)
    assert.are.equal(6, err.code)
    assert.are.equal(401, err.http_status)
    assert.are.equal("invalid_client", err.oauth_code)
    assert.is_string(err.message)
    assert.is_falsy(err.message:find("Wr0ngSecretValue", 1, true))
    assert.matches("^cxoauth AUTH %(6%)", tostring(err))
    c:close()
  end)

  it("refuses a header line with CR/LF as INVALID_ARGUMENT", function()
    local c = assert(cxoauth.client(config()))
    local r, err = c:request("GET", "/api/v2/echo", { ["X-Bad"] = "a\r\nInjected: 1" })
    assert.is_nil(r)
    assert.are.equal("INVALID_ARGUMENT", err.name)
    c:close()
  end)

  it("ends a hanging call with TIMEOUT by the client's own timeout", function()
    admin("POST", "faults", '{"target":"api","path_prefix":"/api/v2/echo/slow","count":5,"action":{"kind":"delay","ms":5000}}')
    local c = assert(cxoauth.client(config({ timeout_ms = 300, deadline_ms = 800 })))
    local t0 = os.time()
    local r, err = c:request("GET", "/api/v2/echo/slow")
    assert.is_nil(r)
    assert.are.equal("TIMEOUT", err.name)
    assert.is_true(os.time() - t0 <= 3)
    -- other paths answer meanwhile
    assert.are.equal(200, assert(c:request("GET", "/api/v2/echo/fast")).status)
    c:close()
  end)

  it("takes per-call options as an optional table (oauth_request_ex)", function()
    local c = assert(cxoauth.client(config({ max_retries = 3 })))
    assert(c:token())
    admin("POST", "faults", '{"target":"api","path_prefix":"/api/v2/echo/opt","count":2,"action":{"kind":"status","status":503}}')
    local before = counter("api_requests")
    local r = assert(c:request("GET", "/api/v2/echo/opt", nil, nil, { max_retries = 0 }))
    assert.are.equal(503, r.status)
    assert.are.equal(1, counter("api_requests") - before)
    -- idempotent: a POST retried after the second 503
    before = counter("api_requests")
    r = assert(c:request("POST", "/api/v2/echo/opt", nil, "{}", { idempotent = true, deadline_ms = 10000 }))
    assert.are.equal(200, r.status)
    assert.are.equal(2, counter("api_requests") - before)
    -- resend_after_401 = false: the 401, no new token (a JSON string works too)
    admin("POST", "revoke", "{}")
    local tokens = counter("token_requests")
    r = assert(c:request("GET", "/api/v2/echo", nil, nil, '{"resend_after_401":false,"pacing":"fail_fast"}'))
    assert.are.equal(401, r.status)
    assert.are.equal(tokens, counter("token_requests"))
    assert.are.equal(200, assert(c:request("GET", "/api/v2/echo")).status)
    assert.are.equal(tokens + 1, counter("token_requests"))
    -- a bad option: INVALID_ARGUMENT naming it, nothing sent
    before = counter("api_requests")
    local bad, err = c:request("GET", "/api/v2/echo", nil, nil, { max_retries = 101 })
    assert.is_nil(bad)
    assert.are.equal("INVALID_ARGUMENT", err.name)
    assert.truthy(err.message:find('"max_retries"', 1, true))
    bad, err = c:request("GET", "/api/v2/echo", nil, nil, { retries = 1 })
    assert.is_nil(bad)
    assert.truthy(err.message:find('"retries"', 1, true))
    assert.are.equal(before, counter("api_requests"))
    assert.has_error(function() c:request("GET", "/api/v2/echo", nil, nil, 5) end)
    c:close()
  end)

  it("invalidate drops the cached token, and the next call fetches one", function()
    local c = assert(cxoauth.client(config()))
    local t1 = assert(c:token())
    local before = counter("token_requests")
    assert.is_true(c:invalidate("not-the-cached-token"))
    assert.are.equal(t1, assert(c:token()))
    assert.are.equal(before, counter("token_requests"))
    assert.is_true(c:invalidate(t1))
    local t2 = assert(c:token())
    assert.are_not.equal(t1, t2)
    assert.are.equal(before + 1, counter("token_requests"))
    c:close()
  end)

  it("stats is a table", function()
    local c = assert(cxoauth.client(config()))
    assert(c:token())
    local s = assert(c:stats())
    assert.is_table(s)
    assert.is_true(next(s) ~= nil)
    c:close()
  end)

  it("set_credentials replaces the credentials", function()
    local c = assert(cxoauth.client(config({ client_secret = "Wr0ngSecretValue" })))
    assert.are.equal("AUTH", select(2, c:token()).name)
    assert.is_true(c:set_credentials("test-client", SECRET))
    assert.is_string(assert(c:token()))
    c:close()
  end)

  it("a closed client gives CLOSED error values, never a crash; close twice is fine", function()
    local c = assert(cxoauth.client(config()))
    assert(c:token())
    assert.is_true(c:close())
    assert.is_true(c:close())
    for _, call in ipairs({
      function() return c:token() end,
      function() return c:token_ex() end,
      function() return c:request("GET", "/api/v2/echo") end,
      function() return c:invalidate("x") end,
      function() return c:stats() end,
      function() return c:set_credentials("a", "b") end,
    }) do
      local v, err = call()
      assert.is_nil(v)
      assert.are.equal("CLOSED", err.name)
      assert.are.equal(12, err.code)
    end
    assert.matches("closed", tostring(c))
  end)

  it("__gc closes and frees clients the script dropped", function()
    for _ = 1, 50 do
      local c = assert(cxoauth.client(config()))
      assert(c:token())
    end
    collectgarbage("collect")
    collectgarbage("collect")
    local c = assert(cxoauth.client(config()))
    assert.is_string(assert(c:token()))
    c:close()
  end)

  it("shared(name) gives one client per name in the process", function()
    local a, created_a = cxoauth.shared("spec", config())
    local b, created_b = cxoauth.shared("spec", { this_config = "is ignored" })
    assert.is_true(created_a)
    assert.is_false(created_b)
    local before = counter("token_requests")
    assert.are.equal(assert(a:token()), assert(b:token()))
    assert.are.equal(before + 1, counter("token_requests"))
    a = nil
    collectgarbage("collect")
    assert.is_string(assert(b:token())) -- the registry keeps it alive
    assert.is_true(cxoauth.shared_close("spec"))
    assert.are.equal("CLOSED", select(2, b:token()).name)
    assert.is_false(cxoauth.shared_close("spec"))
    local c, created = cxoauth.shared("spec", config())
    assert.is_true(created)
    assert.is_string(assert(c:token()))
    cxoauth.shared_close("spec")
  end)

  it("collects the library's log lines for the host to drain, without secrets or tokens", function()
    cxoauth.take_log()
    assert.is_true(cxoauth.set_log_level(4))
    local c = assert(cxoauth.client(config()))
    local tok = assert(c:token())
    assert(c:request("GET", "/api/v2/echo"))
    c:close()
    cxoauth.set_log_level(0)
    local lines, dropped = cxoauth.take_log()
    assert.is_true(#lines > 0)
    assert.are.equal(0, dropped)
    for _, l in ipairs(lines) do
      assert.is_true(l.level >= 1 and l.level <= 4)
      assert.is_falsy(l.message:find(SECRET, 1, true))
      assert.is_falsy(l.message:find(tok, 1, true))
    end
    assert.are.equal(0, #cxoauth.take_log())
  end)
end)
