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

ome_writers_require(tiff libtiff-4 libtiff-dev)
ome_writers_require(pugixml pugixml libpugixml-dev)
ome_writers_require(json nlohmann_json nlohmann-json3-dev)
ome_writers_require(zstd libzstd libzstd-dev)
ome_writers_require(blosc blosc libblosc-dev)
ome_writers_require(deflate libdeflate libdeflate-dev)

find_package(Threads REQUIRED)
