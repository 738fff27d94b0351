# Drivers of tests/integration/test_attest.sh, included from attest/CMakeLists.txt:
#   attest_check        runs the attest/ verifiers on files (the server side)
#   attest_tpm_certify  TPM2_Certify with a nonce through ESAPI (the device side; tpm2_certify
#                       5.4 cannot set qualifyingData)
# Both land in ${CMAKE_BINARY_DIR}/tests/integration, where the script looks for them.
add_executable(attest_check ${CMAKE_SOURCE_DIR}/tests/integration/attest_check.c)
target_link_libraries(attest_check PRIVATE ztca_attest)
set_target_properties(attest_check PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                      ${CMAKE_BINARY_DIR}/tests/integration)

pkg_check_modules(TSS2_ESYS IMPORTED_TARGET tss2-esys tss2-tctildr tss2-mu)
if(TSS2_ESYS_FOUND)
  add_executable(attest_tpm_certify ${CMAKE_SOURCE_DIR}/tests/integration/attest_tpm_certify.c)
  target_link_libraries(attest_tpm_certify PRIVATE PkgConfig::TSS2_ESYS)
  set_target_properties(attest_tpm_certify PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_BINARY_DIR}/tests/integration)
else()
  message(WARNING "tss2-esys/tss2-tctildr not found: integration_attest will skip")
endif()
