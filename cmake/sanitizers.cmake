# HIVE_SANITIZE builds every target of this project with the named sanitizers
# (make test-asan: address,undefined; make test-tsan: thread). The flags go on
# compile and link lines of this project only: the fuzz tree (fuzz/) is its own
# clang project with its own sanitizers, and tests/fuzz/ leaves it out of
# sanitizer trees.
set(HIVE_SANITIZE "" CACHE STRING
  "Sanitizers for every target: address, undefined, thread, or a comma list such as address,undefined")
if(NOT HIVE_SANITIZE)
  return()
endif()

string(REPLACE "," ";" hive_sanitizers "${HIVE_SANITIZE}")
foreach(sanitizer ${hive_sanitizers})
  if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
    message(FATAL_ERROR "HIVE_SANITIZE: unknown sanitizer '${sanitizer}' in '${HIVE_SANITIZE}' "
                        "(known: address, undefined, thread)")
  endif()
endforeach()
if("thread" IN_LIST hive_sanitizers AND "address" IN_LIST hive_sanitizers)
  message(FATAL_ERROR "HIVE_SANITIZE: thread and address cannot be combined in one build ('${HIVE_SANITIZE}')")
endif()

set(hive_sanitize_flags -fsanitize=${HIVE_SANITIZE} -fno-omit-frame-pointer)
if("undefined" IN_LIST hive_sanitizers)
  # A UBSan report is an error, not a warning the test would pass over.
  list(APPEND hive_sanitize_flags -fno-sanitize-recover=undefined)
endif()
add_compile_options(${hive_sanitize_flags})
add_link_options(${hive_sanitize_flags})
if("thread" IN_LIST hive_sanitizers)
  # Keeps protobuf's map fields at the uninstrumented libprotobuf's layout.
  add_compile_options(-include ${CMAKE_CURRENT_LIST_DIR}/protobuf_tsan_abi.h)
endif()
message(STATUS "HIVE_SANITIZE: ${hive_sanitize_flags}")
