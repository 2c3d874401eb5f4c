# CMake package configuration for cxoauth: find_package(cxoauth) provides the imported target
# cxoauth::cxoauth (shared library; cxoauth::cxoauth_static for the static one).
# Installed to <prefix>/<libdir>/cmake/cxoauth/ by scripts/package-check.sh (or by packagers).
get_filename_component(_cxoauth_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
get_filename_component(_cxoauth_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

find_path(CXOAUTH_INCLUDE_DIR cxoauth.h
  PATHS "${_cxoauth_prefix}/include" PATH_SUFFIXES cxoauth NO_DEFAULT_PATH)
find_library(CXOAUTH_LIBRARY NAMES cxoauth PATHS "${_cxoauth_libdir}" NO_DEFAULT_PATH)
find_library(CXOAUTH_STATIC_LIBRARY NAMES libcxoauth.a PATHS "${_cxoauth_libdir}" NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cxoauth
  REQUIRED_VARS CXOAUTH_LIBRARY CXOAUTH_INCLUDE_DIR
  VERSION_VAR cxoauth_VERSION)

if(cxoauth_FOUND AND NOT TARGET cxoauth::cxoauth)
  add_library(cxoauth::cxoauth SHARED IMPORTED)
  set_target_properties(cxoauth::cxoauth PROPERTIES
    IMPORTED_LOCATION "${CXOAUTH_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CXOAUTH_INCLUDE_DIR}")
  if(CXOAUTH_STATIC_LIBRARY)
    add_library(cxoauth::cxoauth_static STATIC IMPORTED)
    set_target_properties(cxoauth::cxoauth_static PROPERTIES
      IMPORTED_LOCATION "${CXOAUTH_STATIC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CXOAUTH_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl;c")
  endif()
endif()
