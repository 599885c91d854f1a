# The stackless-agent tool end to end: keygen, sign, inspect and verify, and the clear
# one-line errors (exit status 2) for bad files, untrusted signers and changed bytes.
# -DTOOL=<stackless-agent> -DWORK=<folder> -DROBOTS=<robots> -DCORPUS=<unpickle_corpus>
# (robots writes a checkpoint to look into; unpickle_corpus, signed and unsigned pickles).
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

# A checkpoint: its named channels and its agents by type.
execute_process(COMMAND ${ROBOTS} --robots 100 --width 50 --height 50 --rounds 4
                        --checkpoint ${WORK}/robots.ckpt --checkpoint-at 2
                OUTPUT_QUIET RESULT_VARIABLE robots_status)
if(NOT robots_status EQUAL 0)
  message(FATAL_ERROR "robots could not write a checkpoint")
endif()
run(0 inspect robots.ckpt)
expect("checkpoint" "${out}")
expect("named channels: 0" "${out}")
expect("agents: 1" "${out}")
expect("1 x robots.world version 1" "${out}")
expect("signer: unsigned" "${out}")
run(2 verify robots.ckpt --trust site.pub)
expect("unsigned" "${err}")

# Agent pickles, signed and not: type, point, and the signer.
execute_process(COMMAND ${CORPUS} ${WORK}/corpus RESULT_VARIABLE corpus_status)
if(NOT corpus_status EQUAL 0)
  message(FATAL_ERROR "unpickle_corpus failed")
endif()
run(0 inspect corpus/agent)
expect("type: fuzz.strings version 2" "${out}")
expect("point: not started" "${out}")
run(0 inspect corpus/agent-signed)
expect("(signature holds)" "${out}")
run(2 verify corpus/agent-signed --trust site.pub)
expect("unknown signer" "${err}")
run(0 inspect corpus/checkpoint-signed)
expect("named channels: 2" "${out}")
expect("1 x fuzz.strings version 2" "${out}")
expect("1 x fuzz.tree version 1" "${out}")
