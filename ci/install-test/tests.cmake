# Install.* tests: install this build into a scratch prefix and build a
# consumer against it with find_package(xipc) and with pkg-config, using this
# build's compiler and toolchain file; the consumer runs through
# CMAKE_CROSSCOMPILING_EMULATOR (Wine) in a cross build. Same test names on
# every platform. Included from the top-level CMakeLists.txt.
set(XIPC_INSTALL_TEST_ARGS
  -DSRC=${CMAKE_CURRENT_LIST_DIR}
  -DBUILD_DIR=${CMAKE_BINARY_DIR}
  -DWORK=${CMAKE_BINARY_DIR}/install-test
  -DCONFIG=$<CONFIG>
  -DVERSION=${PROJECT_VERSION}
  -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
  -DMANDIR=${CMAKE_INSTALL_MANDIR}
  -DGENERATOR=${CMAKE_GENERATOR}
  -DC_COMPILER=${CMAKE_C_COMPILER}
  -DC_FLAGS=${CMAKE_C_FLAGS}
  -DLINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}
  -DTOOLCHAIN=${CMAKE_TOOLCHAIN_FILE}
  "-DEMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}"
  -DEXE_SUFFIX=${CMAKE_EXECUTABLE_SUFFIX}
  -DWIN=${WIN32})
# xipc_scaled_timeout: conformance/CMakeLists.txt (XIPC_TEST_TIME_SCALE).
xipc_scaled_timeout(XIPC_INSTALL_TEST_TIMEOUT 300)
foreach(step IN ITEMS Prefix FindPackage PkgConfig)
  add_test(NAME Install.${step}
    COMMAND ${CMAKE_COMMAND} -DSTEP=${step} ${XIPC_INSTALL_TEST_ARGS}
            -P ${CMAKE_CURRENT_LIST_DIR}/run.cmake)
  set_tests_properties(Install.${step} PROPERTIES TIMEOUT ${XIPC_INSTALL_TEST_TIMEOUT}
    SKIP_REGULAR_EXPRESSION "XIPC-SKIP:")
endforeach()
set_tests_properties(Install.Prefix PROPERTIES FIXTURES_SETUP xipc_installed)
set_tests_properties(Install.FindPackage Install.PkgConfig PROPERTIES
  FIXTURES_REQUIRED xipc_installed)
