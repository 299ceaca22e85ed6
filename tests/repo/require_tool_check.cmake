# cmake -P script for repo.ci_requires_tools: asks hive_require_tool for a
# program that exists nowhere. Under CI=true this script must fail (the test
# expects it to); without CI it must warn and carry on.
include(${REPO_DIR}/cmake/required_tool.cmake)
hive_require_tool(HIVE_MISSING NAMES hive-no-such-tool-4f1c FOR "the planted suite")
if(HIVE_MISSING)
  message(FATAL_ERROR "hive-no-such-tool-4f1c was found: the check proves nothing")
endif()
message(STATUS "planted suite left out")
