/*
 * Several Lua states in one process, each on its own OS thread, each with its own
 * `require "cxoauth"` (issue 23): a host as a thread-per-call server is (FreeSWITCH mod_lua,
 * Asterisk pbx_lua), whose states are made with luaL_newstate, used and lua_close'd while
 * other states keep working. Built per Lua version by run-tests.sh (and under AddressSanitizer).
 *
 *   multi_state '<dir>/?.so' <path of multi_state.lua>
 *
 * Env: CXOAUTH_SIM_PORT, CXOAUTH_TEST_SECRET (the simulator run-tests.sh starts).
 * The Lua side is multi_state.lua (the roles); this file makes the states and threads, the
 * phase gate between them, and checks the outcomes and the simulator's counters.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "harness.h"

#define WORKERS 4
#define ROUNDS 20
#define GATE_TIMEOUT_S 120 /* a bound against a hang, never a wait for luck */

static const char *g_cpath, *g_script, *g_secret;

/* ---------------------------------------------------------------- the phase gate ---------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_halfway; /* workers past their first half (or finished early) */
static int g_closed;  /* the closing state is gone (client closed, lua_close done) */

static void gate_reset(void) {
  pthread_mutex_lock(&g_mu);
  g_halfway = g_closed = 0;
  pthread_mutex_unlock(&g_mu);
}

/* Waits until *flag >= want; 0 on time-out. */
static int gate_wait(const int *flag, int want) {
  struct timespec until;
  int rc = 0;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += GATE_TIMEOUT_S;
  pthread_mutex_lock(&g_mu);
  while (*flag < want && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&g_cv, &g_mu, &until);
  rc = *flag >= want;
  pthread_mutex_unlock(&g_mu);
  return rc;
}

static void gate_add(int *flag) {
  pthread_mutex_lock(&g_mu);
  (*flag)++;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

/* ---------------------------------------------------------------- one state's job --------- */

typedef struct {
  const char *role;
  int id;
  const char *cache;  /* token_cache, or NULL: the client's own memory cache */
  const char *shared; /* a cxoauth.shared name, or NULL: cxoauth.client */
  /* results */
  int ok;             /* the role returned (no Lua error) */
  long r1, r2;        /* its integer results */
  char token[4096];   /* shared_token's token (compared, never printed) */
  int halfway;
  char err[512];
} job;

/* host.halfway(): this worker is past its first half; returns when the closer is gone. */
static int l_halfway(lua_State *L) {
  job *j = (job *)lua_touserdata(L, lua_upvalueindex(1));
  j->halfway = 1;
  gate_add(&g_halfway);
  if (!gate_wait(&g_closed, 1)) return luaL_error(L, "timed out waiting for the closing state");
  return 0;
}

/* host.wait_halfway(): returns when every worker is past its first half. */
static int l_wait_halfway(lua_State *L) {
  if (!gate_wait(&g_halfway, WORKERS)) return luaL_error(L, "timed out waiting for the workers");
  return 0;
}

/* A new state with the standard libraries, the globals of multi_state.lua and its roles
 * table on the stack; NULL (j->err set) on failure. */
static lua_State *state_open(job *j) {
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(j->err, sizeof j->err, "luaL_newstate failed");
    return NULL;
  }
  luaL_openlibs(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, j);
  lua_pushcclosure(L, l_halfway, 1);
  lua_setfield(L, -2, "halfway");
  lua_pushcfunction(L, l_wait_halfway);
  lua_setfield(L, -2, "wait_halfway");
  lua_setglobal(L, "host");
  lua_pushstring(L, g_cpath);
  lua_setglobal(L, "CPATH");
  lua_pushinteger(L, g_sim_port);
  lua_setglobal(L, "PORT");
  lua_pushstring(L, g_secret);
  lua_setglobal(L, "SECRET");
  lua_pushinteger(L, ROUNDS);
  lua_setglobal(L, "M");
  if (luaL_loadfile(L, g_script) != 0 || lua_pcall(L, 0, 1, 0) != 0 || !lua_istable(L, -1)) {
    snprintf(j->err, sizeof j->err, "loading %s: %s", g_script,
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "roles table expected");
    lua_close(L);
    return NULL;
  }
  return L;
}

/* Calls roles[j->role]{id=, cache=, shared=} and keeps its results in j. */
static void state_run(lua_State *L, job *j) {
  lua_getfield(L, -1, j->role);
  lua_newtable(L);
  lua_pushinteger(L, j->id);
  lua_setfield(L, -2, "id");
  if (j->cache) {
    lua_pushstring(L, j->cache);
    lua_setfield(L, -2, "cache");
  }
  if (j->shared) {
    lua_pushstring(L, j->shared);
    lua_setfield(L, -2, "shared");
  }
  if (lua_pcall(L, 1, 2, 0) != 0) {
    snprintf(j->err, sizeof j->err, "%s %d: %s", j->role, j->id,
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object)");
    lua_pop(L, 1);
    return;
  }
  j->ok = 1;
  if (lua_type(L, -2) == LUA_TSTRING) {
    snprintf(j->token, sizeof j->token, "%s", lua_tostring(L, -2));
  } else {
    j->r1 = (long)lua_tointeger(L, -2);
  }
  j->r2 = (long)lua_tointeger(L, -1);
  lua_pop(L, 2);
}

/* One state from start to lua_close, on the calling thread. */
static void state_job(job *j) {
  lua_State *L = state_open(j);
  if (L) {
    state_run(L, j);
    lua_close(L); /* the __gc of every client this state still holds runs here */
  }
}

static void *worker_thread(void *arg) {
  job *j = arg;
  state_job(j);
  if (!j->halfway) gate_add(&g_halfway); /* failed early: the closer must not wait for it */
  return NULL;
}

static void *closer_thread(void *arg) {
  job *j = arg;
  state_job(j);
  gate_add(&g_closed); /* after lua_close: the workers' second half runs without this state */
  return NULL;
}

static void check_job(const job *j) {
  if (!j->ok) fprintf(stderr, "  %s\n", j->err);
  CHECK(j->ok);
}

/* ---------------------------------------------------------------- the scenarios ----------- */

/* WORKERS states each making ROUNDS token calls and requests, concurrently, while one more
 * state turns the log sink on, uses two clients and goes away halfway (one client closed, the
 * other closed by __gc in lua_close). Then, in a new state, the log lines queued meanwhile. */
static void run_states(const char *cache, const char *shared) {
  job w[WORKERS], closer, drain;
  pthread_t tw[WORKERS], tc;
  int i;
  gate_reset();
  /* the log sink on before any state makes a client (otherwise a worker may start the shared
   * client's only token fetch before the closing state turns the sink on: nothing logged) */
  memset(&drain, 0, sizeof drain);
  drain.role = "log_on";
  state_job(&drain);
  check_job(&drain);
  memset(&closer, 0, sizeof closer);
  closer.role = "closer";
  closer.id = WORKERS;
  closer.cache = cache;
  closer.shared = shared;
  for (i = 0; i < WORKERS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].role = "worker";
    w[i].id = i;
    w[i].cache = cache;
    w[i].shared = shared;
  }
  CHECK(pthread_create(&tc, NULL, closer_thread, &closer) == 0);
  for (i = 0; i < WORKERS; i++) CHECK(pthread_create(&tw[i], NULL, worker_thread, &w[i]) == 0);
  for (i = 0; i < WORKERS; i++) pthread_join(tw[i], NULL);
  pthread_join(tc, NULL);
  check_job(&closer);
  for (i = 0; i < WORKERS; i++) {
    check_job(&w[i]);
    CHECK_EQ_INT(w[i].r1, ROUNDS);
  }
  /* every state is closed now: a new one still finds the lines the library logged */
  memset(&drain, 0, sizeof drain);
  drain.role = "drain";
  state_job(&drain);
  check_job(&drain);
  CHECK(drain.r1 > 0);
  CHECK_EQ_INT(drain.r2, 0);
}

static void own_clients_memory_cache(void) {
  run_states(NULL, NULL);
  /* one token per client: a client each for the workers, two for the closing state */
  CHECK_EQ_INT(sim_counter("token_requests"), WORKERS + 2);
  CHECK_EQ_INT(sim_counter("api_requests"), WORKERS * ROUNDS + 2);
}

static void own_clients_file_cache(void) {
  char dir[] = "/tmp/cxoauth-lua-multi-XXXXXX", cache[128];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(cache, sizeof cache, "file://%s/tokens", dir);
  run_states(cache, NULL);
  /* one token in all: the clients of every state share the file cache */
  CHECK_EQ_INT(sim_counter("token_requests"), 1);
  CHECK_EQ_INT(sim_counter("api_requests"), WORKERS * ROUNDS + 2);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

/* Every state takes cxoauth.shared("multi"): one native client for the process; the closing
 * state's references go with it; the name outlives every state (shared_close from a new one). */
static void one_shared_client(void) {
  job done;
  run_states(NULL, "multi");
  CHECK_EQ_INT(sim_counter("token_requests"), 1);
  memset(&done, 0, sizeof done);
  done.role = "shared_close";
  done.shared = "multi";
  state_job(&done);
  check_job(&done);
  CHECK_EQ_INT(done.r1, 1);
}

/* States one after another, none open in between (a script run per call): the second finds
 * the first one's shared client, token and all. */
static void sequential_states_share_one_client(void) {
  job a, b, done;
  memset(&a, 0, sizeof a);
  a.role = "shared_token";
  a.shared = "seq";
  b = a;
  b.id = 1;
  state_job(&a);
  state_job(&b);
  check_job(&a);
  check_job(&b);
  CHECK_EQ_INT(a.r2, 1); /* created */
  CHECK_EQ_INT(b.r2, 0); /* found */
  CHECK(a.token[0] != 0 && strcmp(a.token, b.token) == 0);
  CHECK_EQ_INT(sim_counter("token_requests"), 1);
  memset(&done, 0, sizeof done);
  done.role = "shared_close";
  done.shared = "seq";
  state_job(&done);
  check_job(&done);
  CHECK_EQ_INT(done.r1, 1);
  memset(a.token, 0, sizeof a.token);
  memset(b.token, 0, sizeof b.token);
}

int main(int argc, char **argv) {
  static const struct test_case tests[] = {
      {"own_clients_memory_cache", own_clients_memory_cache},
      {"own_clients_file_cache", own_clients_file_cache},
      {"one_shared_client", one_shared_client},
      {"sequential_states_share_one_client", sequential_states_share_one_client},
  };
  int rc;
  if (argc < 3) {
    fprintf(stderr, "usage: %s '<dir>/?.so' <multi_state.lua> [filter]\n", argv[0]);
    return 2;
  }
  g_cpath = argv[1];
  g_script = argv[2];
  g_secret = getenv("CXOAUTH_TEST_SECRET");
  if (!g_secret) {
    fprintf(stderr, "CXOAUTH_TEST_SECRET is not set\n");
    return 2;
  }
  sim_port_from_env();
  printf("Lua states on threads (%s, %d workers x %d rounds)\n", LUA_VERSION, WORKERS, ROUNDS);
  rc = run_tests(tests, sizeof tests / sizeof tests[0], argc > 3 ? argv[3] : NULL);
  fflush(stdout); /* LeakSanitizer's report ends the process without stdio's own flush */
  return rc;
}
