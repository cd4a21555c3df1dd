# Fails when a source file outside the platform layer (cpp/src/platform)
# includes an operating-system header: the rest of the code reaches the OS
# only through cpp/src/platform/platform.hpp, so that it builds everywhere.
# Run as: cmake -DROOT=<source dir> -P tests/os_headers_check.cmake
if(NOT ROOT)
  message(FATAL_ERROR "pass -DROOT=<source directory>")
endif()

# POSIX, Linux, macOS and Windows headers (ISO C and C++ headers are fine).
set(_os_headers
  "unistd\\.h" "fcntl\\.h" "sys/[a-z_/]+\\.h" "pthread\\.h" "sched\\.h" "dlfcn\\.h" "dirent\\.h"
  "malloc\\.h" "poll\\.h" "termios\\.h" "pwd\\.h" "grp\\.h" "libgen\\.h" "spawn\\.h"
  "semaphore\\.h" "aio\\.h" "syslog\\.h" "linux/[a-z_/]+\\.h" "mach/[a-z_/]+\\.h"
  "mach-o/[a-z_/]+\\.h" "windows\\.h" "winbase\\.h" "winnt\\.h" "winsock2?\\.h" "ws2tcpip\\.h"
  "io\\.h" "direct\\.h" "process\\.h" "shlobj\\.h" "shellapi\\.h" "fileapi\\.h" "processthreadsapi\\.h"
  "synchapi\\.h" "handleapi\\.h" "memoryapi\\.h")
list(JOIN _os_headers "|" _alternatives)
set(_pattern "^[ \t]*#[ \t]*include[ \t]*<(${_alternatives})>")

# The platform layer itself; and the Linux wheels' glibc symbol-version shim
# (python/bindings/glibc_compat.cpp), which exists only to bind glibc symbols
# and is compiled only into Linux wheels (OME_WRITERS_GLIBC_COMPAT).
set(_allowed "^cpp/src/platform/" "^python/bindings/glibc_compat\\.cpp$")

file(GLOB_RECURSE _files RELATIVE "${ROOT}"
  "${ROOT}/cpp/*.cpp" "${ROOT}/cpp/*.hpp" "${ROOT}/cpp/*.h"
  "${ROOT}/tests/*.cpp" "${ROOT}/tests/*.hpp" "${ROOT}/tests/*.h"
  "${ROOT}/python/*.cpp" "${ROOT}/python/*.hpp" "${ROOT}/python/*.h"
  "${ROOT}/examples/*.cpp" "${ROOT}/examples/*.hpp"
  "${ROOT}/benchmarks/*.cpp" "${ROOT}/benchmarks/*.hpp")
set(_offences)
set(_checked 0)
foreach(_file IN LISTS _files)
  set(_skip FALSE)
  foreach(_allow IN LISTS _allowed)
    if(_file MATCHES "${_allow}")
      set(_skip TRUE)
    endif()
  endforeach()
  if(_skip)
    continue()
  endif()
  math(EXPR _checked "${_checked} + 1")
  file(STRINGS "${ROOT}/${_file}" _lines REGEX "#[ \t]*include")
  foreach(_line IN LISTS _lines)
    string(TOLOWER "${_line}" _lower)
    if(_lower MATCHES "${_pattern}")
      list(APPEND _offences "${_file}: ${_line}")
    endif()
  endforeach()
endforeach()
if(_offences)
  list(JOIN _offences "\n  " _text)
  message(FATAL_ERROR "OS headers outside cpp/src/platform:\n  ${_text}\n"
    "Reach the OS through cpp/src/platform/platform.hpp instead.")
endif()
message(STATUS "no OS header outside cpp/src/platform (${_checked} files checked)")
