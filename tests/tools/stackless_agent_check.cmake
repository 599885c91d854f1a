# The stackless-agent tool end to end: keygen, sign, inspect and verify, and the clear
# one-line errors (exit status 2) for bad files, untrusted signers and changed bytes.
# -DTOOL=<stackless-agent> -DWORK=<folder>
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run expected_status)
  execute_process(COMMAND ${TOOL} ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${WORK})
  if(NOT status EQUAL expected_status)
    message(FATAL_ERROR "stackless-agent ${ARGN}: status ${status}, expected ${expected_status}\n${out}${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect text where)
  string(FIND "${where}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected \"${text}\" in:\n${where}")
  endif()
endfunction()

run(0 keygen site)
run(0 keygen stranger)
file(WRITE ${WORK}/fib.c "int fib(int x) { return x <= 1 ? 1 : fib(x - 1) + fib(x - 2); }\n")
run(0 sign site.key fib.c fib fib.blob)
expect("1 symbols" "${out}")

run(0 inspect fib.blob)
expect("mobile code" "${out}")
expect("symbols: fib" "${out}")
run(0 verify fib.blob --trust site.pub)
expect("verified" "${out}")

run(2 verify fib.blob --trust stranger.pub)
expect("not a trusted key" "${err}")

# One changed byte of the source: the code signature no longer holds. (dd, from coreutils,
# patches the copy in place.)
file(READ ${WORK}/fib.blob blob HEX)
string(FIND "${blob}" "6669622878" at)  # "fib(x"
if(at EQUAL -1)
  message(FATAL_ERROR "the source is not in the blob")
endif()
math(EXPR offset "${at} / 2 + 4")
file(COPY_FILE ${WORK}/fib.blob ${WORK}/changed.blob)
file(WRITE ${WORK}/y.txt "y")
execute_process(COMMAND dd if=y.txt of=changed.blob bs=1 seek=${offset} conv=notrunc
                WORKING_DIRECTORY ${WORK} RESULT_VARIABLE dd_status ERROR_QUIET)
if(NOT dd_status EQUAL 0)
  message(FATAL_ERROR "dd failed")
endif()
run(2 verify changed.blob --trust site.pub)
expect("signature does not match" "${err}")

file(WRITE ${WORK}/garbage.bin "this is not a pickle at all")
run(2 inspect garbage.bin)
expect("bad magic" "${err}")
run(2 inspect missing.bin)
run(2 frobnicate)
expect("usage" "${err}")
execute_process(COMMAND dd if=fib.blob of=cut.blob bs=1 count=20 WORKING_DIRECTORY ${WORK}
                ERROR_QUIET)
run(2 inspect cut.blob)
expect("truncated" "${err}")
string(REGEX MATCHALL "\n" lines "${err}")
list(LENGTH lines count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "an error is one line:\n${err}")
endif()
