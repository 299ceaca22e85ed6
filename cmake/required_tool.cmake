# hive_require_tool(<var> NAMES <name>... FOR <what it is needed for>)
#
# Finds a program a test suite needs. When it is missing, a suite must not
# quietly vanish from ctest: under CI (the environment variable CI=true, which
# .ci/run's caller sets) configuration fails naming the program and
# `make deps`; on a developer's machine it warns loudly and the caller leaves
# the suite out. <var> is the found path, or false.
#
#   hive_require_tool(HIVE_NODE NAMES node FOR "the Helm chart tests (helm.*)")
#   if(NOT HIVE_NODE)
#     return()
#   endif()
function(hive_require_tool var)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "FOR" "NAMES")
  find_program(${var} NAMES ${arg_NAMES})
  if(${var})
    return()
  endif()
  set(message "${arg_NAMES} not found: ${arg_FOR} cannot run (`make deps` installs it, see scripts/debian-packages.txt)")
  if("$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR "${message}")
  endif()
  message(WARNING "${message}. They are NOT registered in this tree; CI=true makes this an error.")
endfunction()
