# Bad options are refused with a clear message and exit status 2.
foreach(args "--robots;0" "--width;abc" "--rounds;-3" "--bogus;1" "--robots" "--threads;0"
             "--threads;1000" "--threads;2;--preemptive;3" "--threads;3;--height;2"
             "--width;2000000" "--independent" "--threads;1;--independent"
             "--checkpoint;x.ckpt" "--checkpoint-at;3" "--checkpoint;x.ckpt;--checkpoint-at;0"
             "--checkpoint;x.ckpt;--checkpoint-at;11"
             "--checkpoint;x.ckpt;--checkpoint-at;2;--preemptive;5"
             "--restore;x.ckpt;--threads;2;--independent")
  execute_process(COMMAND ${PROGRAM} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 2)
    message(FATAL_ERROR "robots ${args}: exit status ${status}, expected 2")
  endif()
  if(NOT err MATCHES "^robots: .*\nusage: robots")
    message(FATAL_ERROR "robots ${args}: unclear message:\n${err}")
  endif()
endforeach()

# A checkpoint that is not there: exit status 2, one clear line.
execute_process(COMMAND ${PROGRAM} --restore /nonexistent/robots.ckpt OUTPUT_VARIABLE out
                ERROR_VARIABLE err RESULT_VARIABLE status)
if(NOT status EQUAL 2 OR NOT err MATCHES "^robots: --restore /nonexistent/robots.ckpt: ")
  message(FATAL_ERROR "robots --restore of a missing file: status ${status}:\n${err}")
endif()
