# hivebridge allocates per message (protobuf strings, the codec's DOM, gRPC's
# slices) from several threads at once; tcmalloc (gperftools) serves that from
# per-thread caches where glibc's malloc takes arena locks and consolidates
# (docs/PERFORMANCE.md, hot spot 3). The benchmarks' processes get the same
# allocator, so their ratios compare like with like. A sanitizer tree keeps
# the sanitizer's own allocator.
#
#   hive_use_tcmalloc(hivebridge)
if(NOT HIVE_SANITIZE)
  # Only the runtime library is needed (libtcmalloc-minimal4): replacing
  # malloc takes no header, and so no symbol is referenced, hence no-as-needed.
  find_library(HIVE_TCMALLOC_LIBRARY NAMES tcmalloc_minimal libtcmalloc_minimal.so.4 REQUIRED)
endif()

function(hive_use_tcmalloc target)
  if(NOT HIVE_SANITIZE)
    # One item: CMake would merge repeated push/pop-state flags of several.
    target_link_libraries(${target} PRIVATE "-Wl,--push-state,--no-as-needed,${HIVE_TCMALLOC_LIBRARY},--pop-state")
  endif()
endfunction()
