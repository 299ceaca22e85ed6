# Sourced by the shell tests that start hivebridge or hive-device-sim
# themselves: in a sanitizer build (make test-asan, make test-tsan) a report
# in a child's log fails the test, even when the test saw nothing amiss.
#
#   . tests/sanitizers/reports.sh
#   sanitizer_clean LOG...   # prints each log holding a report; false if any does

sanitizer_clean() {
  local log clean=0
  for log in "$@"; do
    if [ -f "$log" ] && grep -q -e 'Sanitizer:' -e ': runtime error: ' "$log"; then
      echo "FAIL: sanitizer report in $log:" >&2
      cat "$log" >&2
      clean=1
    fi
  done
  return $clean
}
