# One step of the Install.* tests (see tests.cmake); run with cmake -P.
#   Prefix:      cmake --install the build into WORK/prefix, check its files
#                and run the installed xipc command
#   FindPackage: configure + build this directory with CMAKE_PREFIX_PATH
#                only, also in a cross build with xipc's toolchain file
#   PkgConfig:   compile main.c with `pkg-config --cflags --libs xipc`
# Both consumers are then run (through EMULATOR in a cross build) and must
# print "xipc-consumer: xipc VERSION, pid N ok".
cmake_minimum_required(VERSION 3.25)
set(prefix ${WORK}/prefix)
separate_arguments(c_flags UNIX_COMMAND "${C_FLAGS}")
separate_arguments(linker_flags UNIX_COMMAND "${LINKER_FLAGS}")
set(config_args "")
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

function(run_consumer exe)
  run("running the consumer" ${EMULATOR} ${exe})
  if(NOT output MATCHES "xipc-consumer: xipc ${VERSION}, pid [0-9]+ ok")
    message(FATAL_ERROR "unexpected consumer output: ${output}")
  endif()
endfunction()

if(STEP STREQUAL "Prefix")
  file(REMOVE_RECURSE ${WORK})
  run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} ${config_args} --prefix ${prefix})
  foreach(f include/xipc.h ${LIBDIR}/cmake/xipc/xipc-config.cmake
            ${LIBDIR}/cmake/xipc/xipc-config-version.cmake ${LIBDIR}/pkgconfig/xipc.pc)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${prefix}/${f}")
    endif()
  endforeach()
  file(GLOB lib ${prefix}/${LIBDIR}/*xipc.a ${prefix}/${LIBDIR}/xipc.lib)
  if(NOT lib)
    message(FATAL_ERROR "no static library in ${prefix}/${LIBDIR}")
  endif()
  # The xipc command and its manual page; the installed program must run
  # (through EMULATOR in a cross build) and know the version and its
  # commands.
  foreach(f bin/xipc${EXE_SUFFIX} ${MANDIR}/man1/xipc.1)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${prefix}/${f}")
    endif()
  endforeach()
  run("the installed xipc --version" ${EMULATOR} ${prefix}/bin/xipc${EXE_SUFFIX} --version)
  if(NOT output MATCHES "^xipc ${VERSION}\r?\n")
    message(FATAL_ERROR "unexpected xipc --version output: ${output}")
  endif()
  run("the installed xipc ls" ${EMULATOR} ${prefix}/bin/xipc${EXE_SUFFIX} ls)
  if(NOT output MATCHES "^KIND +NAME")
    message(FATAL_ERROR "unexpected xipc ls output: ${output}")
  endif()
  execute_process(COMMAND ${EMULATOR} ${prefix}/bin/xipc${EXE_SUFFIX} ls --bogus
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "xipc ls --bogus exited ${rc}, not 2 (usage error)")
  endif()

elseif(STEP STREQUAL "FindPackage")
  set(bin ${WORK}/find-package)
  file(REMOVE_RECURSE ${bin})
  set(args -S ${SRC} -B ${bin} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=${CONFIG}
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
      "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
  if(TOOLCHAIN)
    # A cross toolchain re-roots every package search below its roots
    # (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY); xipc's toolchain file makes
    # each CMAKE_PREFIX_PATH entry a root, so the prefix alone is enough,
    # as in a native build (no xipc_DIR or CMAKE_FIND_ROOT_PATH needed).
    list(APPEND args -DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN})
  endif()
  run("configuring the consumer" ${CMAKE_COMMAND} ${args})
  # The package must come from the installed prefix, not from this build.
  file(STRINGS ${bin}/CMakeCache.txt dir REGEX "^xipc_DIR:")
  string(REGEX REPLACE "^xipc_DIR:[A-Z]+=" "" dir "${dir}")
  if(NOT dir STREQUAL "${prefix}/${LIBDIR}/cmake/xipc")
    message(FATAL_ERROR "find_package(xipc) used ${dir}, not ${prefix}")
  endif()
  run("building the consumer" ${CMAKE_COMMAND} --build ${bin} ${config_args})
  run_consumer(${bin}/consumer${EXE_SUFFIX})

elseif(STEP STREQUAL "PkgConfig")
  find_program(PKG_CONFIG NAMES pkg-config pkgconf)
  if(NOT PKG_CONFIG)
    message("XIPC-SKIP: pkg-config is not installed (apt-get install pkg-config)")
    return()
  endif()
  set(bin ${WORK}/pkg-config)
  file(REMOVE_RECURSE ${bin})
  file(MAKE_DIRECTORY ${bin})
  # Only the installed prefix: no system .pc files, no host paths.
  set(ENV{PKG_CONFIG_LIBDIR} ${prefix}/${LIBDIR}/pkgconfig)
  unset(ENV{PKG_CONFIG_PATH})
  run("pkg-config" ${PKG_CONFIG} --cflags --libs xipc)
  separate_arguments(pc_flags UNIX_COMMAND "${output}")
  set(static "")
  if(WIN)
    set(static -static)
  endif()
  run("compiling the consumer" ${C_COMPILER} ${c_flags} ${SRC}/main.c ${pc_flags}
      ${linker_flags} ${static} -o ${bin}/consumer${EXE_SUFFIX})
  run_consumer(${bin}/consumer${EXE_SUFFIX})

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
