#Same seed, same result(every line but the timings); another seed, other winners.EXTRA
#adds options(--threads T : the same must hold on T threads).
function(results seed out)
    execute_process(COMMAND $ { PROGRAM } --robots 20000 --width 1000 --height 1000 --seed ${
        seed} ${EXTRA} OUTPUT_VARIABLE text RESULT_VARIABLE status) if (NOT status EQUAL 0)
        message(FATAL_ERROR "robots --seed ${seed} exited with ${status}") endif()
            string(REGEX REPLACE
                   "setup:[^\n]*\n"
                   "" text "${text}") string(REGEX REPLACE
                                             "peak RSS:[^\n]*\n"
                                             "" text "${text}") string(REGEX REPLACE
                                                                       "seed [0-9]+"
                                                                       "" text "${text}") set($ {
              out
            } "${text}" PARENT_SCOPE) endfunction() results(7 first) results(7 second)
                results(8 other) if (NOT first STREQUAL second)
                    message(FATAL_ERROR "two runs with seed 7 differ:\n${first}\n---\n${second}")
                        endif() if (first STREQUAL other)
                            message(FATAL_ERROR "seeds 7 and 8 gave the same result:\n${first}")
                                endif() string(FIND
                                               "${first}"
                                               "total points: " at) if (at EQUAL - 1)
                                    message(FATAL_ERROR "no result printed:\n${first}") endif()
