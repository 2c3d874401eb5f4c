-- luarocks --lua-version 5.1 make bindings/lua/cxoauth-0.2.0-1.rockspec \
--     CXOAUTH_INCDIR=<dir of cxoauth.h> CXOAUTH_LIBDIR=<dir of libcxoauth.so>
-- Without the two variables the Makefile asks pkg-config for an installed cxoauth.pc (as
-- `cargo cinstall` writes it), then falls back to the compiler's default paths.
rockspec_format = "3.0"
package = "cxoauth"
version = "0.2.0-1"
source = {
   url = "git+https://github.com/cxoauth/cxoauth",
   tag = "v0.2.0",
   dir = "cxoauth",
}
description = {
   summary = "OAuth2 client-credentials tokens and authenticated REST calls (Genesys Cloud CX, NICE CXone, any OAuth2 server)",
   detailed = [[
A thin C module over libcxoauth's C ABI: token cache shared between the worker processes of a
pre-forking host (Kamailio app_lua, FreeSWITCH mod_lua, Asterisk pbx_lua), retries, timeouts.
]],
   homepage = "https://github.com/cxoauth/cxoauth",
   license = "Apache-2.0",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
build = {
   type = "make",
   -- run from the repository root (as `luarocks make bindings/lua/<this file>` does)
   makefile = "bindings/lua/Makefile",
   build_target = "all",
   install_target = "install",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA_INCDIR = "$(LUA_INCDIR)",
      CXOAUTH_INCDIR = "$(CXOAUTH_INCDIR)",
      CXOAUTH_LIBDIR = "$(CXOAUTH_LIBDIR)",
   },
   install_variables = {
      INST_LIBDIR = "$(LIBDIR)",
      CXOAUTH_INCDIR = "$(CXOAUTH_INCDIR)",
      CXOAUTH_LIBDIR = "$(CXOAUTH_LIBDIR)",
   },
}
