# The installed package: CMake config (find_package(ringlab)), ringlab.pc, and CPack's Debian package.
# Included by the root CMakeLists.txt after every part has called ringlab_install().
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

install(EXPORT ringlabTargets NAMESPACE ringlab:: FILE ringlabTargets.cmake
  DESTINATION ${RINGLAB_INSTALL_CMAKEDIR} COMPONENT dev)

# The config re-finds what the exported targets name (PkgConfig::*, Threads::Threads), as found here:
# the optional backends only when this build had them.
set(RINGLAB_PC_REQUIRES "libpcap liburing libsodium")
set(RINGLAB_CONFIG_DEPS "find_dependency(Threads)
find_dependency(PkgConfig)
pkg_check_modules(PCAP REQUIRED IMPORTED_TARGET libpcap)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
")
set(RINGLAB_PC_LIBS "-lringlab_bypass_stack -lringlab_bypass -lringlab_bypass_devices -lringlab_backends")
if(RINGLAB_HAVE_XDP)
  string(APPEND RINGLAB_CONFIG_DEPS "pkg_check_modules(XDP REQUIRED IMPORTED_TARGET libxdp libbpf)\n")
  string(APPEND RINGLAB_PC_REQUIRES " libxdp libbpf")
  string(APPEND RINGLAB_PC_LIBS " -lringlab_afxdp")
endif()
if(RINGLAB_HAVE_DPDK)
  string(APPEND RINGLAB_CONFIG_DEPS "pkg_check_modules(DPDK REQUIRED IMPORTED_TARGET libdpdk)\n")
  string(APPEND RINGLAB_PC_REQUIRES " libdpdk")
  string(APPEND RINGLAB_PC_LIBS " -lringlab_dpdk -Wl,--push-state,--no-as-needed -lrte_net_ring -lrte_net_pcap -lrte_net_af_xdp -lrte_bus_vdev -Wl,--pop-state")
endif()
# Static libraries: dependents before what they use.
string(APPEND RINGLAB_PC_LIBS " -lringlab_stack -lringlab_tcp -lringlab_sim_nic -lringlab_port -lringlab_wire -lringlab_trace -pthread")

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ringlabConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ringlabConfig.cmake INSTALL_DESTINATION ${RINGLAB_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringlabConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)   # 0.x: a minor version may break the API
install(FILES ${PROJECT_BINARY_DIR}/ringlabConfig.cmake ${PROJECT_BINARY_DIR}/ringlabConfigVersion.cmake
  DESTINATION ${RINGLAB_INSTALL_CMAKEDIR} COMPONENT dev)

# rings' headers test RINGLAB_HAVE_DPDK (0/1), as the CMake target defines it.
if(RINGLAB_HAVE_DPDK)
  set(RINGLAB_PC_HAVE_DPDK 1)
else()
  set(RINGLAB_PC_HAVE_DPDK 0)
endif()
# The prefix relative to the .pc file itself, so `cmake --install --prefix P` and the Debian package
# (installed under /usr) both get a ringlab.pc that points at where it is.
file(RELATIVE_PATH RINGLAB_PC_UP /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" RINGLAB_PC_UP "${RINGLAB_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/ringlab.pc.in ${PROJECT_BINARY_DIR}/ringlab.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ringlab.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# cpack -G DEB (in build/<preset>): one package "ringlab" with the CLI, the static libraries, the
# headers, the CMake package and ringlab.pc. It is a development package (an app links our static
# libraries), so it depends on the Debian -dev packages of what the exported targets use (./lab's
# list; they bring the runtime libraries the CLI needs), and on the optional ones this build found.
set(CPACK_PACKAGE_NAME ringlab)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "ringlab")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "lab for the packet path NIC -> rings -> user-space stack -> Asio sockets")
set(CPACK_PACKAGE_INSTALL_DIRECTORY ringlab)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "ringlab maintainers <ringlab@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# libssl3: the CLI's `repro` digests with OpenSSL's libcrypto.
set(deb_depends libasio-dev libboost-dev libpcap-dev liburing-dev libsodium-dev libssl3 pkg-config)
if(RINGLAB_HAVE_XDP)
  list(APPEND deb_depends libxdp-dev libbpf-dev)
endif()
if(RINGLAB_HAVE_DPDK)
  list(APPEND deb_depends libdpdk-dev)
endif()
list(JOIN deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
set(CPACK_COMPONENTS_ALL cli dev)   # not the Unspecified component: nothing else is meant to ship
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_GENERATOR DEB)
# The default preset builds with -g: unstripped, the .deb was 37 MB and installed 125 MB, nearly all
# debug info (a debug package is not built).
set(CPACK_STRIP_FILES ON)
include(CPack)
