# Install rules: each part calls ringlab_install() next to its library, so the list of what is
# installed lives with the libraries themselves (not in the root). cmake/package.cmake (included last
# by the root) writes the CMake package, ringlab.pc and the CPack settings from what was registered.
include_guard(GLOBAL)
# Libraries go to Debian's multiarch directory (lib/x86_64-linux-gnu) where the compiler names one, for
# every prefix: GNUInstallDirs picks it only when the prefix is /usr at configure time, so a build
# configured for /usr/local gave the Debian package (CPack, prefix /usr) a bare lib/.
# -DRINGLAB_DEBIAN_MULTIARCH=OFF leaves CMAKE_INSTALL_LIBDIR to GNUInstallDirs (and to -D).
option(RINGLAB_DEBIAN_MULTIARCH "install libraries in lib/<multiarch> on Debian" ON)
if(RINGLAB_DEBIAN_MULTIARCH AND CMAKE_LIBRARY_ARCHITECTURE AND EXISTS /etc/debian_version)
  set(CMAKE_INSTALL_LIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE} CACHE PATH "object code libraries (Debian multiarch)" FORCE)
endif()
include(GNUInstallDirs)

# Headers go to <prefix>/include/ringlab/<folder>/, keeping the folder layout of the source tree.
# Consumers get BOTH include dirs: <prefix>/include/ringlab, where our own headers' includes resolve
# ("stack/wire/ipv4_addr.hpp" as in-tree; every installed header uses that form, so this one is
# required), and <prefix>/include, so an app may spell them <ringlab/stack/wire/ipv4_addr.hpp>.
set(RINGLAB_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/ringlab)
set(RINGLAB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringlab)

# ringlab_install(TARGET [EXPORT_NAME name] [HEADER_DIRS dir...] [NO_HEADERS]): installs the library (static or
# INTERFACE) into the export set ringlabTargets as ringlab::<EXPORT_NAME> (default: TARGET without its
# ringlab_ prefix), and the *.hpp / *.h of HEADER_DIRS (default: the calling folder; relative to it),
# not recursively: a subfolder with a library of its own installs its own headers.
function(ringlab_install target)
  cmake_parse_arguments(A "NO_HEADERS" "EXPORT_NAME" "HEADER_DIRS" ${ARGN})
  if(NOT A_EXPORT_NAME)
    string(REGEX REPLACE "^ringlab_" "" A_EXPORT_NAME ${target})
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${A_EXPORT_NAME})
  target_include_directories(${target} INTERFACE
    $<INSTALL_INTERFACE:${RINGLAB_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS ${target} EXPORT ringlabTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
  if(NOT A_HEADER_DIRS AND NOT A_NO_HEADERS)
    set(A_HEADER_DIRS .)
  endif()
  foreach(d ${A_HEADER_DIRS})
    get_filename_component(abs ${d} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${abs})
    file(GLOB headers CONFIGURE_DEPENDS ${abs}/*.hpp ${abs}/*.h)
    if(headers)
      install(FILES ${headers} DESTINATION ${RINGLAB_INSTALL_INCLUDEDIR}/${rel} COMPONENT dev)
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY RINGLAB_INSTALLED_TARGETS ${target})
endfunction()
