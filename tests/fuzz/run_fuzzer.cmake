# Runs one libFuzzer binary for a fixed budget on a scratch copy of its seed
# corpus (the committed corpus is never modified). Fails on any crash, leak,
# timeout or sanitizer report; the reproducer is left in WORK/.
#   cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DSECONDS=20 -DRUNS=... -P run_fuzzer.cmake
foreach(var FUZZER CORPUS WORK SECONDS RUNS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
if(EXISTS ${CORPUS})
  file(GLOB seeds ${CORPUS}/*)
  if(seeds)
    file(COPY ${seeds} DESTINATION ${WORK}/corpus)
  endif()
endif()

execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -runs=${RUNS} -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/ ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB artifacts ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed (exit ${rc}); reproducers: ${artifacts}")
endif()
