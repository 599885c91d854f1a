# SCH-1: without a runtime each thread has its own scheduler. robots --threads 3
# --independent (three plain threads, a scheduler each) plays the same bands with the same
# robots as a runtime of three threads: the same result.
function(results out)
  execute_process(COMMAND ${PROGRAM} --robots 20000 --width 1000 --height 1000 --seed 11
                          --threads 3 ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "robots ${ARGN} exited with ${status}")
  endif()
  string(REGEX REPLACE "setup:[^\n]*\n" "" text "${text}")
  string(REGEX REPLACE "peak RSS:[^\n]*\n" "" text "${text}")
  string(REPLACE ", independent schedulers" "" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
results(runtime)
results(independent --independent)
if(NOT runtime STREQUAL independent)
  message(FATAL_ERROR "runtime and independent schedulers differ:\n${runtime}\n---\n${independent}")
endif()
string(FIND "${runtime}" "total points: " at)
if(at EQUAL -1)
  message(FATAL_ERROR "no result printed:\n${runtime}")
endif()
