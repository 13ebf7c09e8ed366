# Shared CMake for ringlab: dependencies, warnings, and helpers every folder uses.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/install.cmake)   # ringlab_install(): each part installs its library
find_package(PkgConfig REQUIRED)

# ccache (installed by ./lab) makes the three CI builds of the same sources cheap on a warm machine.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()
find_package(Threads REQUIRED)

# --- required dependencies (Debian packages installed by ./lab) ---
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)          # libasio-dev: standalone Asio
find_package(Boost 1.74 REQUIRED)                      # libboost-dev: Lockfree only (header-only)
pkg_check_modules(PCAP REQUIRED IMPORTED_TARGET libpcap)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)   # libsodium-dev: SipHash (TCP ISNs, RFC 6528)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)   # python3: bench/smoke.py, bench/report.py

add_library(ringlab_asio INTERFACE)
target_include_directories(ringlab_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
# ASIO_DISABLE_STD_ALIGNED_ALLOC: Asio 1.22 decides between aligned_alloc/free and aligned operator
# new/delete from _GLIBCXX_HAVE_ALIGNED_ALLOC, which is defined only when a standard header came before
# Asio's. Translation units that include in different orders then disagree inside the same inline
# function (ASan: alloc-dealloc-mismatch). One fixed choice for all of them.
target_compile_definitions(ringlab_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(ringlab_asio INTERFACE Threads::Threads PkgConfig::URING)
# GCC 12 under -fsanitize=thread warns (-Wtsan, an error with -Werror) that TSan does not model the
# std::atomic_thread_fence Asio inlines into our handlers (std_fenced_block, atomic_count).
if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(ringlab_asio INTERFACE -Wno-tsan)
endif()

add_library(ringlab_boost INTERFACE)
target_include_directories(ringlab_boost SYSTEM INTERFACE ${Boost_INCLUDE_DIRS})
# Exported with the libraries that use them (an app needs Asio's definitions; warnings is link-only).
ringlab_install(ringlab_asio NO_HEADERS)
ringlab_install(ringlab_boost NO_HEADERS)

# --- optional dependencies: one clear line when missing, the build goes on without them ---
pkg_check_modules(DPDK QUIET IMPORTED_TARGET libdpdk)
if(DPDK_FOUND)
  set(RINGLAB_HAVE_DPDK ON)
  message(STATUS "ringlab: DPDK ${DPDK_VERSION} found: rte_ring adapter and DPDK backend enabled")
else()
  set(RINGLAB_HAVE_DPDK OFF)
  message(STATUS "ringlab: DPDK not found (apt-get install libdpdk-dev): rte_ring adapter and DPDK backend left out")
endif()
pkg_check_modules(XDP QUIET IMPORTED_TARGET libxdp libbpf)
find_program(CLANG_BPF clang)
if(XDP_FOUND AND CLANG_BPF)
  set(RINGLAB_HAVE_XDP ON)
  message(STATUS "ringlab: libxdp ${XDP_libxdp_VERSION} found: AF_XDP backend enabled")
else()
  set(RINGLAB_HAVE_XDP OFF)
  message(STATUS "ringlab: libxdp/libbpf or clang not found (apt-get install libxdp-dev libbpf-dev clang): AF_XDP backend left out")
endif()

# --- our warnings: -Wall -Wextra -Werror on our own code only ---
add_library(ringlab_warnings INTERFACE)
target_compile_options(ringlab_warnings INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)
# Only $<LINK_ONLY:...> in the static libraries' exported interface: an app never gets our -Werror.
ringlab_install(ringlab_warnings NO_HEADERS)
# GCC's flow-based warnings give false positives at -O1 with sanitizer instrumentation (inside Asio's
# use_future and libstdc++ copies, e.g. -Wmaybe-uninitialized); the default build keeps them as errors.
if(RINGLAB_SANITIZER AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(ringlab_warnings INTERFACE -Wno-maybe-uninitialized -Wno-stringop-overflow
    -Wno-array-bounds -Wno-restrict)
endif()

# GCC 12 at -O3 (the release preset) reports -Wrestrict inside libstdc++'s string operator+ where no
# overlap exists (GCC bug 105651, fixed in 13): twice now on plain `" " + std::to_string(x)` in our
# code. The default and sanitizer builds keep the warning (at -O2 it does not misfire).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(ringlab_warnings INTERFACE $<$<CONFIG:Release>:-Wno-restrict>)
endif()

# ringlab_library(NAME [INTERFACE] SOURCES ... DEPS ...)
function(ringlab_library name)
  cmake_parse_arguments(A "INTERFACE" "" "SOURCES;DEPS" ${ARGN})
  if(A_INTERFACE)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
    target_link_libraries(${name} INTERFACE ${A_DEPS})
  else()
    add_library(${name} STATIC ${A_SOURCES})
    target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
    target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE ringlab_warnings)
  endif()
endfunction()

# ringlab_test(NAME SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s] [ARGS ...])
# A GoogleTest binary; each of its test cases becomes one ctest test, so a GTEST_SKIP() with its reason
# shows in ctest as skipped (never as passed). Labels: unit, netsim, threads (also run under TSan in CI),
# netns (needs root and network namespaces), slow (left out of the default suite), fuzz.
include(GoogleTest)
# The TSan build compiles only the threads-labelled tests (./lab test in CI builds this target there).
add_custom_target(ringlab_threads_tests)
function(ringlab_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main GTest::gmock ringlab_warnings)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  if("threads" IN_LIST A_LABELS)
    add_dependencies(ringlab_threads_tests ${name})
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST EXTRA_ARGS ${A_ARGS}
    PROPERTIES TIMEOUT ${A_TIMEOUT} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  # List-valued properties (LABELS "unit;threads", ENVIRONMENT "A=..;B=..") do not survive
  # gtest_discover_tests's PROPERTIES: it flattens them into one list, so only the first label and
  # the first variable were set (ctest -L threads found nothing). A script that ctest includes after
  # the discovered tests sets them on every name in ${name}_TESTS instead.
  set(props_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake)
  file(WRITE ${props_file} "if(NOT \"\${${name}_TESTS}\" STREQUAL \"\")
  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${A_LABELS}\"
    ENVIRONMENT \"RINGLAB_SOURCE_DIR=${PROJECT_SOURCE_DIR};RINGLAB_BINARY_DIR=${PROJECT_BINARY_DIR}\")
endif()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${props_file})
endfunction()

# ringlab_bench(NAME SOURCES ... DEPS ... [SMOKE_ARGS ...] [SMOKE_REQUIRES root])
# A Google Benchmark program; a short smoke run of it is a test (label bench-smoke), through
# bench/smoke.py: it fails when a benchmark reports an error (SkipWithError) or measured nothing.
# Every smoke run shuffles the benchmarks' order over two repetitions (random interleaving), so a
# benchmark that leans on another having run first fails here. SMOKE_REQUIRES root: skipped (77,
# reason printed) when not root.
function(ringlab_bench name)
  cmake_parse_arguments(A "" "SMOKE_REQUIRES" "SOURCES;DEPS;SMOKE_ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} benchmark::benchmark ringlab_warnings)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  set_property(GLOBAL APPEND PROPERTY RINGLAB_BENCHES ${name})
  if(NOT A_SMOKE_ARGS)
    set(A_SMOKE_ARGS --benchmark_min_time=0.01)
  endif()
  set(requires "")
  if(A_SMOKE_REQUIRES)
    set(requires --requires ${A_SMOKE_REQUIRES})
  endif()
  add_test(NAME ${name}_smoke COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/smoke.py ${requires}
    $<TARGET_FILE:${name}> --benchmark_enable_random_interleaving=true --benchmark_repetitions=2 ${A_SMOKE_ARGS})
  set_tests_properties(${name}_smoke PROPERTIES LABELS "bench-smoke" TIMEOUT 300 SKIP_RETURN_CODE 77)
endfunction()

# ringlab_fuzz_target(NAME SOURCE ENTRY_LIB RUNS N MAX_LEN N [DEFINES D...] [DICT FILE]
#                     [SEEDS_CMD CMD... | CORPUS DIR] [DEPENDS TARGET...])
# With clang (the `fuzz` preset) a libFuzzer binary over a fuzz entry library, and a short run of it
# from its seeds as a test (label fuzz). The seeds are the folder's corpus/ (or CORPUS), or what
# SEEDS_CMD writes into the directory given as its last argument. libFuzzer writes new inputs into the
# first corpus directory: it gets a scratch copy. Every target joins `ringlab_fuzz_targets` (what
# ./lab test builds) and writes build/PRESET/fuzz_targets/NAME.txt, which `./lab fuzz` reads: the
# binary, how to seed it, its dictionary and max_len.
function(ringlab_fuzz_target name source entry)
  cmake_parse_arguments(A "" "RUNS;MAX_LEN;DICT;CORPUS" "DEFINES;SEEDS_CMD;DEPENDS" ${ARGN})
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    return()
  endif()
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${entry} ringlab_warnings)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  if(A_DEFINES)
    target_compile_definitions(${name} PRIVATE ${A_DEFINES})
  endif()
  if(NOT TARGET ringlab_fuzz_targets)
    add_custom_target(ringlab_fuzz_targets)
  endif()
  add_dependencies(ringlab_fuzz_targets ${name} ${A_DEPENDS})
  # One target with what its seeds need: `./lab fuzz --target NAME` builds only that.
  add_custom_target(${name}_with_seeds)
  add_dependencies(${name}_with_seeds ${name} ${A_DEPENDS})
  if(NOT A_CORPUS)
    set(A_CORPUS "${CMAKE_CURRENT_SOURCE_DIR}/corpus")
  endif()
  set(scratch "${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus")
  if(A_SEEDS_CMD)
    list(JOIN A_SEEDS_CMD "' '" seeds)
    set(fill "mkdir -p '${scratch}' && '${seeds}' '${scratch}' >/dev/null")
  else()
    set(seeds "")
    set(fill "cp -r '${A_CORPUS}' '${scratch}'")
  endif()
  set(dict "")
  if(A_DICT)
    set(dict "-dict=${A_DICT}")
  endif()
  add_test(NAME ${name}_run
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
      sh -c "rm -rf '${scratch}' && ${fill} && '$<TARGET_FILE:${name}>' -runs=${A_RUNS} -seed=1 -max_len=${A_MAX_LEN} ${dict} '${scratch}'")
  set_tests_properties(${name}_run PROPERTIES LABELS "fuzz" TIMEOUT 600)
  # key=value lines; seeds_cmd is a CMake list (';' between the words, the directory goes last).
  file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/fuzz_targets/${name}.txt" CONTENT
"binary=$<TARGET_FILE:${name}>
max_len=${A_MAX_LEN}
dict=${A_DICT}
corpus=${A_CORPUS}
seeds_cmd=${A_SEEDS_CMD}
")
endfunction()
