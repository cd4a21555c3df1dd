# Finds the third-party libraries the C++ core links, all from Debian packages.
# Nothing is downloaded or vendored: a missing dependency stops the configure
# step with the name of the Debian package that provides it.

find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR
    "ome_writers needs pkg-config to find its dependencies.\n"
    "Install it with: apt-get install pkg-config")
endif()

# ome_writers_require(<target-suffix> <pkg-config module> <debian package>)
# defines the imported target ome_writers_dep::<target-suffix>.
function(ome_writers_require name module debian_package)
  if(TARGET ome_writers_dep::${name})
    return()
  endif()
  pkg_check_modules(OME_WRITERS_DEP_${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT OME_WRITERS_DEP_${name}_FOUND)
    message(FATAL_ERROR
      "ome_writers: dependency '${module}' was not found.\n"
      "Install it with: apt-get install ${debian_package}\n"
      "(or run scripts/setup.sh, which installs every build dependency)")
  endif()
  add_library(ome_writers_dep::${name} INTERFACE IMPORTED GLOBAL)
  target_link_libraries(ome_writers_dep::${name} INTERFACE PkgConfig::OME_WRITERS_DEP_${name})
  message(STATUS "ome_writers: found ${module} ${OME_WRITERS_DEP_${name}_VERSION}")
endfunction()

# Wheels (scripts/build_wheels.sh) link static, position-independent builds of
# the C libraries instead (scripts/wheel_deps.sh): one archive set, in link
# order, behind every dependency target.
set(OME_WRITERS_STATIC_DEPS "" CACHE PATH
  "Prefix of the static dependency builds of scripts/wheel_deps.sh (wheels); empty: Debian's")
if(OME_WRITERS_STATIC_DEPS)
  set(_archives)
  foreach(_lib tiff blosc pugixml zstd lz4 deflate z)
    set(_archive "${OME_WRITERS_STATIC_DEPS}/lib/lib${_lib}.a")
    if(NOT EXISTS "${_archive}")
      message(FATAL_ERROR "ome_writers: ${_archive} is missing (run scripts/wheel_deps.sh)")
    endif()
    list(APPEND _archives "${_archive}")
  endforeach()
  add_library(ome_writers_dep::static_bundle INTERFACE IMPORTED GLOBAL)
  target_include_directories(ome_writers_dep::static_bundle INTERFACE
    "${OME_WRITERS_STATIC_DEPS}/include")
  # (MSVC has no separate math library.)
  target_link_libraries(ome_writers_dep::static_bundle INTERFACE ${_archives}
    $<$<NOT:$<CXX_COMPILER_ID:MSVC>>:m>)
  foreach(_name tiff pugixml zstd blosc deflate)
    add_library(ome_writers_dep::${_name} INTERFACE IMPORTED GLOBAL)
    target_link_libraries(ome_writers_dep::${_name} INTERFACE ome_writers_dep::static_bundle)
  endforeach()
  message(STATUS "ome_writers: static dependencies from ${OME_WRITERS_STATIC_DEPS}")
else()
  ome_writers_require(tiff libtiff-4 libtiff-dev)
  ome_writers_require(pugixml pugixml libpugixml-dev)
  ome_writers_require(zstd libzstd libzstd-dev)
  ome_writers_require(blosc blosc libblosc-dev)
  ome_writers_require(deflate libdeflate libdeflate-dev)
endif()
# Header-only.
ome_writers_require(json nlohmann_json nlohmann-json3-dev)

find_package(Threads REQUIRED)
