# GoogleTest from Debian's libgtest-dev (CMake package config in /usr/lib/*/cmake/GTest).
find_package(GTest CONFIG QUIET)
if(NOT GTest_FOUND)
  message(FATAL_ERROR
    "ome_writers tests need GoogleTest.\n"
    "Install it with: apt-get install libgtest-dev\n"
    "or configure with -DOME_WRITERS_BUILD_TESTS=OFF")
endif()
include(GoogleTest)
