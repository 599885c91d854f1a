# stackless_target_options(<target>): warnings, -Werror (opt-in) and sanitizers for every target
# of this project, so that one switch configures the whole tree.
find_package(Threads REQUIRED)

set(_stackless_sanitizer_flags "")
if(STACKLESS_SANITIZER STREQUAL "address")
  set(_stackless_sanitizer_flags -fsanitize=address,undefined -fno-sanitize-recover=all
                                 -fno-omit-frame-pointer)
elseif(STACKLESS_SANITIZER STREQUAL "thread")
  set(_stackless_sanitizer_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT STACKLESS_SANITIZER STREQUAL "")
  message(FATAL_ERROR "STACKLESS_SANITIZER must be '', 'address' or 'thread'")
endif()

function(stackless_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(STACKLESS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(_stackless_sanitizer_flags)
    target_compile_options(${target} PRIVATE ${_stackless_sanitizer_flags})
    target_link_options(${target} PRIVATE ${_stackless_sanitizer_flags})
  endif()
endfunction()
