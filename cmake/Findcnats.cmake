# find_package(cnats) for Debian's libnats-dev.
#
# Why a find module: the CMake config that libnats-dev 3.4.1 ships (cnats-config.cmake) declares
# cnats::nats_static too and stops configuration with FATAL_ERROR because libnats_static.a is not
# in the package; its cnats::nats also names libprotobuf-c.so, which only libprotobuf-c-dev ships.
# So this module (found first, CMAKE_MODULE_PATH is searched before config files) defines the same
# target name, cnats::nats, from the package's pkg-config file (libnats.pc), which is correct.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CNATS QUIET libnats)
endif()
find_path(cnats_INCLUDE_DIR NAMES nats.h HINTS ${PC_CNATS_INCLUDE_DIRS})
find_library(cnats_LIBRARY NAMES nats HINTS ${PC_CNATS_LIBRARY_DIRS})
set(cnats_VERSION ${PC_CNATS_VERSION})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cnats REQUIRED_VARS cnats_LIBRARY cnats_INCLUDE_DIR VERSION_VAR cnats_VERSION)

if(cnats_FOUND AND NOT TARGET cnats::nats)
  add_library(cnats::nats UNKNOWN IMPORTED)
  set_target_properties(cnats::nats PROPERTIES
    IMPORTED_LOCATION "${cnats_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${cnats_INCLUDE_DIR}")
endif()
mark_as_advanced(cnats_INCLUDE_DIR cnats_LIBRARY)
