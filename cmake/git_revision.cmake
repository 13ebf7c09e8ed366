# Writes OUT (a header defining RINGLAB_GIT_REVISION) from `git describe --always --dirty` in SRC, and
# only when the revision changed, so that a build after a commit names the new revision and a build
# without one recompiles nothing. Run as: cmake -DSRC=... -DOUT=... -P git_revision.cmake
execute_process(COMMAND git describe --always --dirty WORKING_DIRECTORY ${SRC}
  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev "unknown")
endif()
set(text "#pragma once\n#define RINGLAB_GIT_REVISION \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
