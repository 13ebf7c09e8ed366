#pragma once
// Callgrind's client requests for the `--callgrind` modes of the benchmark programs: collection is
// toggled on only around the measured calls (valgrind --collect-atstart=no). Without
// <valgrind/callgrind.h> (package valgrind) the toggle is a no-op and RINGLAB_HAVE_CALLGRIND is 0, so
// the mode can say so and exit 77.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define RINGLAB_HAVE_CALLGRIND 1
#else
#define CALLGRIND_TOGGLE_COLLECT \
  do {                           \
  } while (0)
#define RINGLAB_HAVE_CALLGRIND 0
#endif
