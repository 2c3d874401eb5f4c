/*
 * cxoauth for Lua: a C module (`require "cxoauth"`) over the cxoauth C ABI.
 *
 * One source for Lua 5.1 / LuaJIT (Kamailio's app_lua, FreeSWITCH's mod_lua, Asterisk's
 * pbx_lua), 5.2, 5.3 and 5.4. Thin: arguments are converted to the ABI's types and results
 * back; every rule (config keys and their checks, retries, token cache, fork handling) is the
 * library's. The conventions are docs/ABI.md's; this file adds only what a Lua host needs:
 *
 * - Lifetime: the close-then-free protocol (docs/ABI.md) with a count of calls in flight, a
 *   closed flag and a reference count under one mutex, because a client can be reached from
 *   several Lua states of one process (`cxoauth.shared`). `__gc` drops a reference; the last
 *   one closes, and the last call in flight (or the close itself) frees.
 * - `cxoauth.shared(name, config)`: a process-wide client by name, so that a client made before
 *   the host forks (Kamailio runs the routing script in the main process, then again in a new
 *   Lua state in every worker) is the one the workers use, and several Lua states of one
 *   process share one client (one token, one connection pool).
 * - Log lines: the library calls its log sink on its own threads, where no Lua state may be
 *   entered. `cxoauth.set_log_level(n)` collects lines in a bounded process-wide queue and
 *   `cxoauth.take_log()` hands them to whichever Lua state drains it (Kamailio: at the end of
 *   each route, into KSR.log).
 * - The config: a Lua table is written as the JSON object the ABI takes, key by key, without
 *   knowing the keys (strings, integers, booleans, other numbers as JSON numbers, a table with
 *   string keys as a nested JSON object, e.g. `gateway`): every key of the schema works, and a
 *   key the module has never heard of is passed through verbatim for the library to accept or
 *   refuse (OAUTH_ERR_CONFIG naming it).
 * - Several Lua states: everything per state (metatables, cxoauth.null, the clients' userdata)
 *   lives in that state's registry; what is process-wide (the `shared` names, the log queue and
 *   the sink the library calls, the fork handler) is in this file's statics, under mutexes.
 *   Those statics must outlive every Lua state, so the module pins itself in memory on the
 *   first `require`: Lua dlcloses a C module when the state that loaded it closes, and a host
 *   that makes and closes a state per script (FreeSWITCH, Asterisk) would otherwise unload it
 *   whenever no state is open, losing the shared clients (leaked, threads running) and the
 *   queued lines, and leaving the library a log sink in unmapped code.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include <cxoauth.h>

/* Lua 5.1 and LuaJIT: no lua_rawlen; luaL_setfuncs only in LuaJIT 2.1 (so our own). */
#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#endif
static void set_funcs(lua_State *L, const luaL_Reg *l) {
  for (; l->name != NULL; l++) {
    lua_pushcfunction(L, l->func);
    lua_setfield(L, -2, l->name);
  }
}

#define CLIENT_MT "cxoauth.client"

/* ---------------------------------------------------------------- shared handle ---------- */

/* One native client and its close-then-free state (docs/ABI.md). */
typedef struct handle {
  pthread_mutex_t mu;
  oauth_client *client; /* NULL once freed */
  int inflight;         /* calls in flight */
  int closed;
  int refs;             /* Lua userdata + the shared registry */
} handle;

typedef struct {
  handle *h; /* NULL after __gc */
} client_ud;

static void handle_free_if_done(handle *h) {
  /* called with h->mu released; frees the struct when nothing refers to it any more */
  pthread_mutex_destroy(&h->mu);
  free(h);
}

/* Drops one reference (a Lua userdata collected, or the registry dropping it). */
static void handle_unref(handle *h) {
  oauth_client *to_free = NULL;
  int dead;
  pthread_mutex_lock(&h->mu);
  h->refs--;
  if (h->refs == 0 && !h->closed) {
    h->closed = 1;
    if (h->client) oauth_close(h->client);
  }
  if (h->closed && h->inflight == 0 && h->client) {
    to_free = h->client;
    h->client = NULL;
  }
  dead = (h->refs == 0 && h->inflight == 0);
  pthread_mutex_unlock(&h->mu);
  if (to_free) oauth_free(to_free);
  if (dead) handle_free_if_done(h);
}

static void handle_close(handle *h) {
  oauth_client *to_free = NULL;
  pthread_mutex_lock(&h->mu);
  if (!h->closed) {
    h->closed = 1;
    if (h->client) oauth_close(h->client);
    if (h->inflight == 0) {
      to_free = h->client;
      h->client = NULL;
    }
  }
  pthread_mutex_unlock(&h->mu);
  if (to_free) oauth_free(to_free);
}

/* Enter a call: NULL when the client is closed (the library is not called then). */
static oauth_client *handle_enter(handle *h) {
  oauth_client *c = NULL;
  pthread_mutex_lock(&h->mu);
  if (!h->closed && h->client) {
    h->inflight++;
    c = h->client;
  }
  pthread_mutex_unlock(&h->mu);
  return c;
}

static void handle_leave(handle *h) {
  oauth_client *to_free = NULL;
  int dead;
  pthread_mutex_lock(&h->mu);
  h->inflight--;
  if (h->closed && h->inflight == 0 && h->client) {
    to_free = h->client;
    h->client = NULL;
  }
  dead = (h->refs == 0 && h->inflight == 0);
  pthread_mutex_unlock(&h->mu);
  if (to_free) oauth_free(to_free);
  if (dead) handle_free_if_done(h);
}

static handle *handle_new(oauth_client *c) {
  handle *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  pthread_mutex_init(&h->mu, NULL);
  h->client = c;
  h->refs = 1;
  return h;
}

/* ---------------------------------------------------------------- errors ----------------- */

static const char *code_name(unsigned code) {
  static const char *const names[] = {
      "OK",       "INVALID_ARGUMENT", "CONFIG",    "NETWORK", "TIMEOUT",   "TLS",     "AUTH",
      "RATE_LIMITED", "SERVER",       "PROTOCOL",  "CANCELLED", "INTERNAL", "CLOSED"};
  return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN";
}

static int err_tostring(lua_State *L) {
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "cxoauth %s (%d): %s", lua_tostring(L, -3) ? lua_tostring(L, -3) : "?",
                  (int)lua_tonumber(L, -2), lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
  return 1;
}

static void set_err_mt(lua_State *L) {
  if (luaL_newmetatable(L, "cxoauth.error")) {
    lua_pushcfunction(L, err_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

/* Pushes nil and the error table for `code` and `err` (freed here); returns 2. */
static int push_error(lua_State *L, oauth_result code, oauth_error *err) {
  const char *s;
  lua_pushnil(L);
  lua_newtable(L);
  if (err) code = oauth_error_code(err);
  lua_pushinteger(L, (lua_Integer)code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, code_name(code));
  lua_setfield(L, -2, "name");
  if (err) {
    lua_pushstring(L, oauth_error_message(err));
  } else if (code == OAUTH_ERR_CLOSED) {
    lua_pushliteral(L, "client is closed");
  } else {
    lua_pushstring(L, code_name(code));
  }
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, err ? (lua_Integer)oauth_error_http_status(err) : 0);
  lua_setfield(L, -2, "http_status");
  if (err && (s = oauth_error_oauth_code(err)) != NULL) {
    lua_pushstring(L, s);
    lua_setfield(L, -2, "oauth_code");
  }
  if (err && (s = oauth_error_correlation_id(err)) != NULL) {
    lua_pushstring(L, s);
    lua_setfield(L, -2, "correlation_id");
  }
  set_err_mt(L);
  oauth_error_free(err);
  return 2;
}

/* ---------------------------------------------------------------- JSON out --------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *np;
    while (cap < b->len + n + 1) cap *= 2;
    np = malloc(cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    if (b->p) {
      memcpy(np, b->p, b->len);
      memset(b->p, 0, b->cap); /* the config may hold secrets: no copy left behind */
      free(b->p);
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void buf_wipe(buf *b) {
  if (b->p) {
    volatile char *v = b->p;
    size_t i;
    for (i = 0; i < b->cap; i++) v[i] = 0;
    free(b->p);
  }
  b->p = NULL;
  b->len = b->cap = 0;
}

static void buf_json_string(buf *b, const char *s, size_t n) {
  size_t i;
  buf_add(b, "\"", 1);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      buf_add(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_add(b, esc, 6);
    } else {
      buf_add(b, (const char *)&s[i], 1);
    }
  }
  buf_add(b, "\"", 1);
}

/* The deepest nesting of config tables (the schema's object keys are one level deep). */
#define CONFIG_MAX_DEPTH 4

/* Writes the table at `idx` as a JSON object; a value that is a table (string keys only) is
 * a nested object. Returns NULL or a static error text. */
static const char *table_to_json_at(lua_State *L, int idx, buf *b, int depth) {
  int first = 1;
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  if (depth > CONFIG_MAX_DEPTH) return "config tables nested too deeply";
  if (!lua_checkstack(L, 4)) return "out of memory";
  buf_add(b, "{", 1);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    size_t kl, vl;
    const char *k, *v;
    char num[64];
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      return "config table keys must be strings";
    }
    k = lua_tolstring(L, -2, &kl);
    if (!first) buf_add(b, ",", 1);
    first = 0;
    buf_json_string(b, k, kl);
    buf_add(b, ":", 1);
    switch (lua_type(L, -1)) {
      case LUA_TSTRING:
        v = lua_tolstring(L, -1, &vl);
        buf_json_string(b, v, vl);
        break;
      case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1)) buf_add(b, "true", 4);
        else buf_add(b, "false", 5);
        break;
      case LUA_TNUMBER: {
#if LUA_VERSION_NUM >= 503
        if (lua_isinteger(L, -1)) {
          snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
          buf_add(b, num, strlen(num));
          break;
        }
#endif
        lua_Number n = lua_tonumber(L, -1);
        if (n != n || n == HUGE_VAL || n == -HUGE_VAL) {
          lua_pop(L, 2);
          return "config numbers must be finite";
        }
        if (n == floor(n) && fabs(n) < 9007199254740992.0) {
          snprintf(num, sizeof num, "%.0f", (double)n);
        } else {
          /* the shortest text that reads back as the same double (0.75, not 0.7500000...) */
          int prec;
          for (prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, (double)n);
            if (strtod(num, NULL) == (double)n) break;
          }
        }
        buf_add(b, num, strlen(num));
        break;
      }
      case LUA_TTABLE: {
        const char *e = table_to_json_at(L, -1, b, depth + 1);
        if (e) {
          lua_pop(L, 2);
          return e;
        }
        break;
      }
      default:
        lua_pop(L, 2);
        return "config values must be strings, numbers, booleans or tables (objects)";
    }
    lua_pop(L, 1);
  }
  buf_add(b, "}", 1);
  return b->oom ? "out of memory" : NULL;
}

/* Writes the config table at `idx` as a JSON object. Returns NULL or a static error text. */
static const char *table_to_json(lua_State *L, int idx, buf *b) { return table_to_json_at(L, idx, b, 0); }

/* cxoauth.config_json(table) -> the JSON text the module passes to the library (for tests
 * and for hosts that keep the text). Errors as luaL_argerror. */
static int l_config_json(lua_State *L) {
  buf b = {0};
  const char *e;
  luaL_checktype(L, 1, LUA_TTABLE);
  e = table_to_json(L, 1, &b);
  if (e) {
    buf_wipe(&b);
    return luaL_argerror(L, 1, e);
  }
  lua_pushlstring(L, b.p, b.len);
  buf_wipe(&b);
  return 1;
}

/* ---------------------------------------------------------------- JSON in ---------------- */
/* A small reader for the library's own JSON (stats, schema): objects, arrays, strings,
 * numbers, true/false/null. null in an object is left out; in an array it is cxoauth.null. */

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static const char *json_value(lua_State *L, const char *p, int depth);

static const char *json_string(lua_State *L, const char *p) {
  luaL_Buffer lb;
  p++; /* opening quote */
  luaL_buffinit(L, &lb);
  while (*p && *p != '"') {
    if (*p == '\\') {
      p++;
      switch (*p) {
        case 'n': luaL_addchar(&lb, '\n'); break;
        case 't': luaL_addchar(&lb, '\t'); break;
        case 'r': luaL_addchar(&lb, '\r'); break;
        case 'b': luaL_addchar(&lb, '\b'); break;
        case 'f': luaL_addchar(&lb, '\f'); break;
        case 'u': {
          unsigned cp = 0;
          int i;
          for (i = 1; i <= 4; i++) {
            char c = p[i];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= (unsigned)(c - 'A' + 10);
            else return NULL;
          }
          p += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
            unsigned lo = (unsigned)strtoul((char[]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              p += 6;
            }
          }
          if (cp < 0x80) {
            luaL_addchar(&lb, (char)cp);
          } else if (cp < 0x800) {
            luaL_addchar(&lb, (char)(0xC0 | (cp >> 6)));
            luaL_addchar(&lb, (char)(0x80 | (cp & 0x3F)));
          } else if (cp < 0x10000) {
            luaL_addchar(&lb, (char)(0xE0 | (cp >> 12)));
            luaL_addchar(&lb, (char)(0x80 | ((cp >> 6) & 0x3F)));
            luaL_addchar(&lb, (char)(0x80 | (cp & 0x3F)));
          } else {
            luaL_addchar(&lb, (char)(0xF0 | (cp >> 18)));
            luaL_addchar(&lb, (char)(0x80 | ((cp >> 12) & 0x3F)));
            luaL_addchar(&lb, (char)(0x80 | ((cp >> 6) & 0x3F)));
            luaL_addchar(&lb, (char)(0x80 | (cp & 0x3F)));
          }
          break;
        }
        case 0: return NULL;
        default: luaL_addchar(&lb, *p); break;
      }
      p++;
    } else {
      luaL_addchar(&lb, *p);
      p++;
    }
  }
  if (*p != '"') return NULL;
  luaL_pushresult(&lb);
  return p + 1;
}

static const char *json_value(lua_State *L, const char *p, int depth) {
  p = skip_ws(p);
  if (depth > 32) return NULL;
  luaL_checkstack(L, 4, "json");
  if (*p == '{') {
    lua_newtable(L);
    p = skip_ws(p + 1);
    if (*p == '}') return p + 1;
    for (;;) {
      int isnull;
      p = skip_ws(p);
      if (*p != '"' || !(p = json_string(L, p))) return NULL;
      p = skip_ws(p);
      if (*p != ':') return NULL;
      p = skip_ws(p + 1);
      isnull = strncmp(p, "null", 4) == 0;
      if (!(p = json_value(L, p, depth + 1))) return NULL;
      if (isnull) lua_pop(L, 2);
      else lua_rawset(L, -3);
      p = skip_ws(p);
      if (*p == ',') { p++; continue; }
      if (*p == '}') return p + 1;
      return NULL;
    }
  }
  if (*p == '[') {
    int n = 0;
    lua_newtable(L);
    p = skip_ws(p + 1);
    if (*p == ']') return p + 1;
    for (;;) {
      if (!(p = json_value(L, p, depth + 1))) return NULL;
      lua_rawseti(L, -2, ++n);
      p = skip_ws(p);
      if (*p == ',') { p++; continue; }
      if (*p == ']') return p + 1;
      return NULL;
    }
  }
  if (*p == '"') return json_string(L, p);
  if (strncmp(p, "true", 4) == 0) { lua_pushboolean(L, 1); return p + 4; }
  if (strncmp(p, "false", 5) == 0) { lua_pushboolean(L, 0); return p + 5; }
  if (strncmp(p, "null", 4) == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, "cxoauth.null");
    return p + 4;
  }
  {
    char *end;
    double d = strtod(p, &end);
    if (end == p) return NULL;
#if LUA_VERSION_NUM >= 503
    if (d == floor(d) && fabs(d) < 9007199254740992.0 && !memchr(p, '.', (size_t)(end - p)) &&
        !memchr(p, 'e', (size_t)(end - p)) && !memchr(p, 'E', (size_t)(end - p)))
      lua_pushinteger(L, (lua_Integer)d);
    else
#endif
      lua_pushnumber(L, (lua_Number)d);
    return end;
  }
}

static int push_json(lua_State *L, const char *text) {
  int top = lua_gettop(L);
  if (!text || !json_value(L, text, 0)) {
    lua_settop(L, top);
    return luaL_error(L, "cxoauth: the library returned JSON this module cannot read");
  }
  return 1;
}

/* ---------------------------------------------------------------- module functions ------- */

static int l_version(lua_State *L) {
  lua_pushstring(L, oauth_version());
  return 1;
}

static int l_config_schema(lua_State *L) { return push_json(L, oauth_config_schema()); }

static handle *check_handle(lua_State *L) {
  client_ud *ud = (client_ud *)luaL_checkudata(L, 1, CLIENT_MT);
  return ud->h;
}

static void push_client(lua_State *L, handle *h) {
  client_ud *ud = (client_ud *)lua_newuserdata(L, sizeof *ud);
  ud->h = h;
  luaL_getmetatable(L, CLIENT_MT);
  lua_setmetatable(L, -2);
}

/* Makes a native client from the config argument at `idx` (nil, JSON string or table).
 * Returns 0 with *out set, or pushes nil, err and returns 2. */
static int new_native(lua_State *L, int idx, oauth_client **out) {
  buf b = {0};
  const char *json = NULL;
  oauth_error *err = NULL;
  oauth_result rc;
  switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL:
      break;
    case LUA_TSTRING:
      json = lua_tostring(L, idx);
      break;
    case LUA_TTABLE: {
      const char *e = table_to_json(L, idx, &b);
      if (e) {
        buf_wipe(&b);
        return luaL_argerror(L, idx, e);
      }
      json = b.p;
      break;
    }
    default:
      return luaL_argerror(L, idx, "config must be a table, a JSON string or nil");
  }
  *out = NULL;
  rc = oauth_client_new(json, out, &err);
  buf_wipe(&b);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  return 0;
}

/* cxoauth.client(config) -> client | nil, err */
static int l_client(lua_State *L) {
  oauth_client *c = NULL;
  handle *h;
  int n = new_native(L, 1, &c);
  if (n) return n;
  h = handle_new(c);
  if (!h) {
    oauth_free(c);
    return luaL_error(L, "cxoauth: out of memory");
  }
  push_client(L, h);
  return 1;
}

/* The process-wide named clients of cxoauth.shared (a short list; names are few). */
typedef struct shared_entry {
  char *name;
  handle *h;
  struct shared_entry *next;
} shared_entry;
static shared_entry *g_shared;
static pthread_mutex_t g_shared_mu = PTHREAD_MUTEX_INITIALIZER;

/* cxoauth.shared(name, config) -> client, created | nil, err
 * The client of that name in this process, made from `config` on first use (later configs
 * are ignored). It lives until the process ends or cxoauth.shared_close(name). */
static int l_shared(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  shared_entry *e;
  oauth_client *c = NULL;
  int n;
  pthread_mutex_lock(&g_shared_mu);
  for (e = g_shared; e; e = e->next) {
    if (strcmp(e->name, name) == 0) {
      pthread_mutex_lock(&e->h->mu);
      e->h->refs++;
      pthread_mutex_unlock(&e->h->mu);
      pthread_mutex_unlock(&g_shared_mu);
      push_client(L, e->h);
      lua_pushboolean(L, 0);
      return 2;
    }
  }
  /* created under the lock so that two states racing make one client; oauth_client_new does
   * no I/O. A Lua error (bad config argument) must not leave the lock held. */
  if (!lua_isnoneornil(L, 2) && !lua_isstring(L, 2) && !lua_istable(L, 2)) {
    pthread_mutex_unlock(&g_shared_mu);
    return luaL_argerror(L, 2, "config must be a table, a JSON string or nil");
  }
  if (lua_istable(L, 2)) {
    buf b = {0};
    const char *err = table_to_json(L, 2, &b);
    buf_wipe(&b);
    if (err) {
      pthread_mutex_unlock(&g_shared_mu);
      return luaL_argerror(L, 2, err);
    }
  }
  n = new_native(L, 2, &c);
  if (n) {
    pthread_mutex_unlock(&g_shared_mu);
    return n;
  }
  e = calloc(1, sizeof *e);
  if (e) e->name = strdup(name);
  if (e) e->h = handle_new(c);
  if (!e || !e->name || !e->h) {
    pthread_mutex_unlock(&g_shared_mu);
    if (e) { free(e->name); free(e->h); free(e); }
    oauth_free(c);
    return luaL_error(L, "cxoauth: out of memory");
  }
  e->h->refs = 2; /* the registry's and this userdata's */
  e->next = g_shared;
  g_shared = e;
  pthread_mutex_unlock(&g_shared_mu);
  push_client(L, e->h);
  lua_pushboolean(L, 1);
  return 2;
}

/* cxoauth.shared_close(name) -> true if there was one: closes it and forgets the name. */
static int l_shared_close(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  shared_entry **pp, *e = NULL;
  pthread_mutex_lock(&g_shared_mu);
  for (pp = &g_shared; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->name, name) == 0) {
      e = *pp;
      *pp = e->next;
      break;
    }
  }
  pthread_mutex_unlock(&g_shared_mu);
  if (e) {
    handle_close(e->h);
    handle_unref(e->h);
    free(e->name);
    free(e);
  }
  lua_pushboolean(L, e != NULL);
  return 1;
}

static int l_gc(lua_State *L) {
  client_ud *ud = (client_ud *)luaL_checkudata(L, 1, CLIENT_MT);
  if (ud->h) {
    handle_unref(ud->h);
    ud->h = NULL;
  }
  return 0;
}

static int l_close(lua_State *L) {
  handle *h = check_handle(L);
  if (h) handle_close(h);
  lua_pushboolean(L, 1);
  return 1;
}

#define ENTER(L, h, c)                                          \
  handle *h = check_handle(L);                                  \
  oauth_client *c = h ? handle_enter(h) : NULL;                 \
  if (!c) return push_error(L, OAUTH_ERR_CLOSED, NULL)

static int l_token(lua_State *L) {
  char *tok = NULL;
  oauth_error *err = NULL;
  oauth_result rc;
  ENTER(L, h, c);
  rc = oauth_get_token(c, &tok, &err);
  handle_leave(h);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  lua_pushstring(L, tok);
  oauth_string_free(tok);
  return 1;
}

static int l_token_ex(lua_State *L) {
  char *tok = NULL;
  uint64_t exp = 0;
  oauth_error *err = NULL;
  oauth_result rc;
  ENTER(L, h, c);
  rc = oauth_get_token_ex(c, NULL, &tok, &exp, &err);
  handle_leave(h);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  lua_pushstring(L, tok);
  oauth_string_free(tok);
#if LUA_VERSION_NUM >= 503
  lua_pushinteger(L, (lua_Integer)exp);
#else
  lua_pushnumber(L, (lua_Number)exp);
#endif
  return 2;
}

static int l_invalidate(lua_State *L) {
  const char *tok = luaL_checkstring(L, 2);
  oauth_result rc;
  ENTER(L, h, c);
  rc = oauth_invalidate_token(c, tok);
  handle_leave(h);
  if (rc != OAUTH_OK) return push_error(L, rc, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_stats(lua_State *L) {
  char *json = NULL;
  oauth_error *err = NULL;
  oauth_result rc;
  ENTER(L, h, c);
  rc = oauth_client_stats(c, &json, &err);
  handle_leave(h);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  /* a table built from a copy on the Lua stack, so that no library memory leaks on error */
  lua_pushstring(L, json);
  oauth_string_free(json);
  return push_json(L, lua_tostring(L, -1));
}

static int l_set_credentials(lua_State *L) {
  const char *id = luaL_checkstring(L, 2);
  const char *secret = luaL_checkstring(L, 3);
  oauth_error *err = NULL;
  oauth_result rc;
  ENTER(L, h, c);
  rc = oauth_client_set_credentials(c, id, secret, &err);
  handle_leave(h);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* Header lines for oauth_request from nil, {name = value | {values...}} or {"Name: value"}.
 * Returns a malloc'd NULL-terminated array (lines malloc'd too) or NULL with *why set. */
static void free_lines(char **lines) {
  size_t i;
  if (!lines) return;
  for (i = 0; lines[i]; i++) free(lines[i]);
  free(lines);
}

static int add_line(char ***lines, size_t *n, size_t *cap, const char *name, size_t nl,
                    const char *value, size_t vl) {
  char *s;
  if (*n + 2 > *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    char **np = realloc(*lines, nc * sizeof *np);
    if (!np) return 0;
    *lines = np;
    *cap = nc;
  }
  s = malloc(nl + vl + 3);
  if (!s) return 0;
  memcpy(s, name, nl);
  if (value) {
    memcpy(s + nl, ": ", 2);
    memcpy(s + nl + 2, value, vl);
    s[nl + 2 + vl] = 0;
  } else {
    s[nl] = 0;
  }
  (*lines)[(*n)++] = s;
  (*lines)[*n] = NULL;
  return 1;
}

static char **header_lines(lua_State *L, int idx, const char **why) {
  char **lines = NULL;
  size_t n = 0, cap = 0;
  *why = NULL;
  if (!add_line(&lines, &n, &cap, "", 0, NULL, 0)) goto oom; /* ensures an array */
  free(lines[0]);
  lines[0] = NULL;
  n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    size_t kl, vl;
    const char *k, *v;
    if (lua_type(L, -2) == LUA_TNUMBER) {
      if (lua_type(L, -1) != LUA_TSTRING) { *why = "header lines must be strings"; goto bad; }
      v = lua_tolstring(L, -1, &vl);
      if (!add_line(&lines, &n, &cap, v, vl, NULL, 0)) goto oom;
    } else if (lua_type(L, -2) == LUA_TSTRING) {
      k = lua_tolstring(L, -2, &kl);
      if (lua_type(L, -1) == LUA_TTABLE) {
        int i, len = (int)lua_rawlen(L, -1);
        for (i = 1; i <= len; i++) {
          lua_rawgeti(L, -1, i);
          if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
            *why = "header values must be strings";
            lua_pop(L, 1);
            goto bad;
          }
          v = lua_tolstring(L, -1, &vl);
          if (!add_line(&lines, &n, &cap, k, kl, v, vl)) { lua_pop(L, 1); goto oom; }
          lua_pop(L, 1);
        }
      } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        lua_pushvalue(L, -1); /* tolstring on a copy: a number key stays a number for next */
        v = lua_tolstring(L, -1, &vl);
        if (!add_line(&lines, &n, &cap, k, kl, v, vl)) { lua_pop(L, 1); goto oom; }
        lua_pop(L, 1);
      } else {
        *why = "header values must be strings or arrays of strings";
        goto bad;
      }
    } else {
      *why = "header names must be strings";
      goto bad;
    }
    lua_pop(L, 1);
  }
  return lines;
bad:
  lua_pop(L, 2);
  free_lines(lines);
  return NULL;
oom:
  lua_pop(L, 2);
  free_lines(lines);
  *why = "out of memory";
  return NULL;
}

static void push_response(lua_State *L, oauth_response *r) {
  size_t len = 0, i, count;
  const uint8_t *body = oauth_response_body(r, &len);
  lua_newtable(L);
  lua_pushinteger(L, (lua_Integer)oauth_response_status(r));
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, body ? (const char *)body : "", body ? len : 0);
  lua_setfield(L, -2, "body");
  lua_newtable(L);
  count = oauth_response_header_count(r);
  for (i = 0; i < count; i++) {
    const char *name = NULL, *value = NULL;
    if (oauth_response_header_at(r, i, &name, &value) != OAUTH_OK) continue;
    lua_getfield(L, -1, name);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushstring(L, value);
      lua_setfield(L, -2, name);
    } else if (lua_type(L, -1) == LUA_TSTRING) { /* second value: make an array */
      lua_newtable(L);
      lua_pushvalue(L, -2);
      lua_rawseti(L, -2, 1);
      lua_pushstring(L, value);
      lua_rawseti(L, -2, 2);
      lua_setfield(L, -3, name);
      lua_pop(L, 1);
    } else {
      lua_pushstring(L, value);
      lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
      lua_pop(L, 1);
    }
  }
  lua_setfield(L, -2, "headers");
}

/* The per-call options argument at `idx` (nil, a table such as {deadline_ms = 2000,
 * idempotent = true} or a JSON string) as options_json in `b`, written key by key like the
 * config (the library checks the keys and values: OAUTH_ERR_INVALID_ARGUMENT naming one).
 * Returns NULL, or a static error text for luaL_argerror. */
static const char *options_json(lua_State *L, int idx, buf *b) {
  size_t n;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL:
      return NULL;
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &n);
      buf_add(b, s, n);
      return b->oom ? "out of memory" : NULL;
    case LUA_TTABLE:
      return table_to_json(L, idx, b);
    default:
      return "options must be a table, a JSON string or nil";
  }
}

/* client:request(method, path_or_url [, headers [, body [, options]]])
 *   -> {status, body, headers} | nil, err */
static int l_request(lua_State *L) {
  const char *method = luaL_checkstring(L, 2);
  const char *path = luaL_checkstring(L, 3);
  size_t blen = 0;
  const char *body = NULL;
  char **lines = NULL;
  buf opts = {0};
  const char *why;
  oauth_response *resp = NULL;
  oauth_error *err = NULL;
  oauth_result rc;
  handle *h;
  oauth_client *c;
  if (!lua_isnoneornil(L, 5)) body = luaL_checklstring(L, 5, &blen);
  if ((why = options_json(L, 6, &opts)) != NULL) {
    buf_wipe(&opts);
    return luaL_argerror(L, 6, why);
  }
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lines = header_lines(L, 4, &why);
    if (!lines) {
      buf_wipe(&opts);
      return luaL_argerror(L, 4, why);
    }
  }
  h = check_handle(L);
  c = h ? handle_enter(h) : NULL;
  if (!c) {
    free_lines(lines);
    buf_wipe(&opts);
    return push_error(L, OAUTH_ERR_CLOSED, NULL);
  }
  rc = oauth_request_ex(c, method, path, (const char *const *)lines, (const uint8_t *)body, blen,
                        opts.p, NULL, &resp, &err);
  handle_leave(h);
  free_lines(lines);
  buf_wipe(&opts);
  if (rc != OAUTH_OK) return push_error(L, rc, err);
  push_response(L, resp);
  oauth_response_free(resp);
  return 1;
}

static int l_tostring(lua_State *L) {
  client_ud *ud = (client_ud *)luaL_checkudata(L, 1, CLIENT_MT);
  int closed = 1;
  if (ud->h) {
    pthread_mutex_lock(&ud->h->mu);
    closed = ud->h->closed;
    pthread_mutex_unlock(&ud->h->mu);
  }
  lua_pushfstring(L, "cxoauth.client (%s)", closed ? "closed" : "open");
  return 1;
}

/* ---------------------------------------------------------------- log queue -------------- */

#define LOG_MAX 1024
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  unsigned level;
  char *msg;
} g_log[LOG_MAX];
static size_t g_log_head, g_log_len, g_log_dropped;

static void log_sink(void *userdata, uint32_t level, const char *message) {
  char *copy;
  (void)userdata;
  copy = strdup(message ? message : "");
  pthread_mutex_lock(&g_log_mu);
  if (copy && g_log_len < LOG_MAX) {
    size_t i = (g_log_head + g_log_len) % LOG_MAX;
    g_log[i].level = level;
    g_log[i].msg = copy;
    g_log_len++;
    copy = NULL;
  } else {
    g_log_dropped++;
  }
  pthread_mutex_unlock(&g_log_mu);
  free(copy);
}

/* After fork() in the child: the queue's lock may have been held by a library thread that
 * does not exist there. */
static void log_atfork_child(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  g_log_mu = fresh;
  pthread_mutex_t fresh2 = PTHREAD_MUTEX_INITIALIZER;
  g_shared_mu = fresh2;
}

/* cxoauth.set_log_level(n): 0 off (the default), 1 error, 2 warn, 3 info, 4 debug. */
static int l_set_log_level(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0 || n > 4) return luaL_argerror(L, 1, "log level 0..4");
  oauth_set_log_callback((uint32_t)n, n ? log_sink : NULL, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* cxoauth.take_log() -> {{level=, message=}, ...}, dropped: the lines collected so far. */
static int l_take_log(lua_State *L) {
  size_t n, dropped, i;
  unsigned levels[LOG_MAX];
  char *msgs[LOG_MAX];
  pthread_mutex_lock(&g_log_mu);
  n = g_log_len;
  for (i = 0; i < n; i++) {
    size_t j = (g_log_head + i) % LOG_MAX;
    levels[i] = g_log[j].level;
    msgs[i] = g_log[j].msg;
    g_log[j].msg = NULL;
  }
  g_log_head = (g_log_head + n) % LOG_MAX;
  g_log_len = 0;
  dropped = g_log_dropped;
  g_log_dropped = 0;
  pthread_mutex_unlock(&g_log_mu);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)levels[i]);
    lua_setfield(L, -2, "level");
    lua_pushstring(L, msgs[i]);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, -2, (int)i + 1);
    free(msgs[i]);
  }
  lua_pushinteger(L, (lua_Integer)dropped);
  return 2;
}

/* ---------------------------------------------------------------- luaopen ---------------- */

static const luaL_Reg client_methods[] = {
    {"token", l_token},
    {"token_ex", l_token_ex},
    {"request", l_request},
    {"invalidate", l_invalidate},
    {"stats", l_stats},
    {"set_credentials", l_set_credentials},
    {"close", l_close},
    {NULL, NULL}};

static const luaL_Reg module_functions[] = {
    {"client", l_client},
    {"shared", l_shared},
    {"shared_close", l_shared_close},
    {"version", l_version},
    {"config_schema", l_config_schema},
    {"config_json", l_config_json},
    {"set_log_level", l_set_log_level},
    {"take_log", l_take_log},
    {NULL, NULL}};

/* Keeps this module loaded for the life of the process (see the top of the file): one more
 * reference to it that is never dropped, with RTLD_NODELETE so that no dlclose unloads it. */
static void pin_module(void) {
  Dl_info info;
  if (dladdr((void *)&pin_module, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void once_init(void) {
  pin_module();
  pthread_atfork(NULL, NULL, log_atfork_child);
}

int luaopen_cxoauth(lua_State *L) {
  pthread_once(&g_once, once_init);
  if (luaL_newmetatable(L, CLIENT_MT)) {
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    set_funcs(L, client_methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "cxoauth.client");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "cxoauth.null");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushlightuserdata(L, (void *)&g_once); /* a unique value for JSON null */
    lua_setfield(L, LUA_REGISTRYINDEX, "cxoauth.null");
  } else {
    lua_pop(L, 1);
  }
  lua_newtable(L);
  set_funcs(L, module_functions);
  lua_getfield(L, LUA_REGISTRYINDEX, "cxoauth.null");
  lua_setfield(L, -2, "null");
  lua_pushstring(L, oauth_version());
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
