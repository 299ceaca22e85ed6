# Writes the fuzzers' seed corpora into OUT_DIR/<target>/ (cmake -P script,
# run by the fuzz_seeds target). Nothing generated here is committed:
#   device_frame    every golden event and response, each dialect, alone and
#                   as one batch per dialect (flags byte '0' hive.v1, '1' compact)
#   device_request  every golden request and the seed request fixture
#                   (tests/fixtures/seed_device_request.json)
#   device_session  each golden event as a frame after a header-token start,
#                   each golden response after a backend request, and a start
#                   in quarantine that authenticates in-band
# plus the hand-written seeds of fuzz/seeds/<target>/ for every target.
# Inputs: REPO_DIR, FIXTURES_DIR (tests/fixtures), OUT_DIR.
cmake_minimum_required(VERSION 3.20)

set(golden ${REPO_DIR}/tests/unit/codec/golden)
file(REMOVE_RECURSE ${OUT_DIR})
foreach(target device_frame device_request bearer_auth jwt_claims device_session)
  file(MAKE_DIRECTORY ${OUT_DIR}/${target})
  file(GLOB hand_written ${REPO_DIR}/fuzz/seeds/${target}/*)
  if(hand_written)
    file(COPY ${hand_written} DESTINATION ${OUT_DIR}/${target})
  endif()
endforeach()

string(ASCII 30 RS)          # the session fuzzer's step separator
string(ASCII 5 REQUEST_ACK)  # its "backend request, wait for the ack"
string(ASCII 6 REQUEST_RESULT)
string(ASCII 10 BEARER)      # its "Bearer <valid token>" text frame

# flags for the dialect of a golden file: hive.v1 or hive.compact.v1.
function(golden_dialect file out_name out_bit)
  get_filename_component(name ${file} NAME)
  if(name MATCHES "\\.compact\\.json$")
    string(REGEX REPLACE "\\.compact\\.json$" "" stem ${name})
    set(${out_name} ${stem}.compact PARENT_SCOPE)
    set(${out_bit} 1 PARENT_SCOPE)
  else()
    string(REGEX REPLACE "\\.json$" "" stem ${name})
    set(${out_name} ${stem}.std PARENT_SCOPE)
    set(${out_bit} 0 PARENT_SCOPE)
  endif()
endfunction()

set(batch_0 "")
set(batch_1 "")
file(GLOB messages ${golden}/event_*.json ${golden}/response_*.json)
foreach(file ${messages})
  golden_dialect(${file} name bit)
  file(READ ${file} text)
  string(STRIP "${text}" text)
  file(WRITE ${OUT_DIR}/device_frame/${name} "${bit}${text}")
  if(batch_${bit} STREQUAL "")
    set(batch_${bit} "${text}")
  else()
    set(batch_${bit} "${batch_${bit}},${text}")
  endif()
  # Session flags: bit 1 (a header token) plus the dialect bit: '2' or '3'.
  math(EXPR flags "2 + ${bit}")
  get_filename_component(stem ${file} NAME)
  if(stem MATCHES "^response_ok" OR stem MATCHES "^response_error")
    file(WRITE ${OUT_DIR}/device_session/${name} "${flags}${REQUEST_RESULT}${RS}${text}")
  elseif(stem MATCHES "^response_")
    file(WRITE ${OUT_DIR}/device_session/${name} "${flags}${REQUEST_ACK}${RS}${text}")
  else()
    file(WRITE ${OUT_DIR}/device_session/${name} "${flags}${text}")
    file(WRITE ${OUT_DIR}/device_session/${name}.quarantine "${bit}${BEARER}${RS}${text}")
  endif()
endforeach()
file(WRITE ${OUT_DIR}/device_frame/batch.std "0[${batch_0}]")
file(WRITE ${OUT_DIR}/device_frame/batch.compact "1[${batch_1}]")

file(GLOB requests ${golden}/request_*.json)
# A missing fixture is an error, not a smaller corpus.
if(NOT EXISTS ${FIXTURES_DIR}/seed_device_request.json)
  message(FATAL_ERROR "missing ${FIXTURES_DIR}/seed_device_request.json")
endif()
list(APPEND requests ${FIXTURES_DIR}/seed_device_request.json)
foreach(file ${requests})
  golden_dialect(${file} name bit)
  file(READ ${file} text)
  file(WRITE ${OUT_DIR}/device_request/${name} "${bit}${text}")
endforeach()
