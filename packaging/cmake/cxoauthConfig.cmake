# CMake package configuration for cxoauth: find_package(cxoauth) provides the imported targets
#   cxoauth::cxoauth        the shared library (C header cxoauth.h)
#   cxoauth::cxoauth_static the static library, when installed
#   cxoauth::cxoauth_cpp    the header-only C++17 wrapper cxoauth.hpp (links cxoauth::cxoauth)
# Installed to <prefix>/<libdir>/cmake/cxoauth/ by scripts/install.sh (or by packagers).
# Every target is defined only if it does not exist yet, so a project may define its own (or
# add_subdirectory(bindings/cpp)) and still call find_package(cxoauth).
get_filename_component(_cxoauth_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
get_filename_component(_cxoauth_libdir "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

find_path(CXOAUTH_INCLUDE_DIR cxoauth.h
  PATHS "${_cxoauth_prefix}/include" PATH_SUFFIXES cxoauth NO_DEFAULT_PATH)
find_path(CXOAUTH_CPP_INCLUDE_DIR cxoauth.hpp
  PATHS "${_cxoauth_prefix}/include" PATH_SUFFIXES cxoauth NO_DEFAULT_PATH)
find_library(CXOAUTH_LIBRARY NAMES cxoauth PATHS "${_cxoauth_libdir}" NO_DEFAULT_PATH)
find_library(CXOAUTH_STATIC_LIBRARY NAMES libcxoauth.a PATHS "${_cxoauth_libdir}" NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cxoauth
  REQUIRED_VARS CXOAUTH_LIBRARY CXOAUTH_INCLUDE_DIR
  VERSION_VAR cxoauth_VERSION)

if(cxoauth_FOUND)
  if(NOT TARGET cxoauth::cxoauth)
    add_library(cxoauth::cxoauth SHARED IMPORTED)
    set_target_properties(cxoauth::cxoauth PROPERTIES
      IMPORTED_LOCATION "${CXOAUTH_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CXOAUTH_INCLUDE_DIR}")
  endif()
  if(CXOAUTH_STATIC_LIBRARY AND NOT TARGET cxoauth::cxoauth_static)
    add_library(cxoauth::cxoauth_static STATIC IMPORTED)
    set_target_properties(cxoauth::cxoauth_static PROPERTIES
      IMPORTED_LOCATION "${CXOAUTH_STATIC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CXOAUTH_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl;c")
  endif()
  if(CXOAUTH_CPP_INCLUDE_DIR AND NOT TARGET cxoauth::cxoauth_cpp)
    add_library(cxoauth::cxoauth_cpp INTERFACE IMPORTED)
    set_target_properties(cxoauth::cxoauth_cpp PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${CXOAUTH_CPP_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES cxoauth::cxoauth
      INTERFACE_COMPILE_FEATURES cxx_std_17)
  endif()
endif()
