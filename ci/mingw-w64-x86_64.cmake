# Toolchain file: cross-compile for 64-bit Windows with MinGW-w64 (posix
# thread model, needed by GoogleTest's std::mutex).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(XIPC_MINGW_PREFIX x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${XIPC_MINGW_PREFIX}-gcc-posix ${XIPC_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${XIPC_MINGW_PREFIX}-g++-posix ${XIPC_MINGW_PREFIX}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${XIPC_MINGW_PREFIX}-windres)
# Appended, so users can add their own roots with -DCMAKE_FIND_ROOT_PATH=...
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${XIPC_MINGW_PREFIX})
# The searches below look only under these roots (a cross build must not
# pick up the build machine's Linux packages), so each CMAKE_PREFIX_PATH
# entry (the -D variable or the environment variable) becomes a root too:
# a consumer's -DCMAKE_PREFIX_PATH=/opt/xipc then finds an xipc installed
# there, as it does in a native build.
set(XIPC_PREFIXES ${CMAKE_PREFIX_PATH})
if(DEFINED ENV{CMAKE_PREFIX_PATH})
  file(TO_CMAKE_PATH "$ENV{CMAKE_PREFIX_PATH}" XIPC_ENV_PREFIXES)
  list(APPEND XIPC_PREFIXES ${XIPC_ENV_PREFIXES})
endif()
foreach(XIPC_PREFIX IN LISTS XIPC_PREFIXES)
  if(NOT XIPC_PREFIX IN_LIST CMAKE_FIND_ROOT_PATH)
    list(APPEND CMAKE_FIND_ROOT_PATH "${XIPC_PREFIX}")
  endif()
endforeach()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
