# Driver of tests/integration/test_ocsp_codec.sh, included from tests/CMakeLists.txt:
#   ocsp_codec_driver  answers OCSP requests and makes CRLs with ca/'s codecs (file I/O only)
# It lands in ${CMAKE_BINARY_DIR}/tests/integration, where the script looks for it.
add_executable(ocsp_codec_driver ${CMAKE_SOURCE_DIR}/tests/integration/ocsp_codec_driver.c)
target_link_libraries(ocsp_codec_driver PRIVATE ztca_ca)
set_target_properties(ocsp_codec_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                      ${CMAKE_BINARY_DIR}/tests/integration)
