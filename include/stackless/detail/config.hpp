#pragma once
/// Compiler helpers shared by the headers.

/// STACKLESS_HOT marks the few functions of the channel and scheduler hot paths that must be
/// inlined into every awaiter: a call there costs more than the work.
#if defined(__GNUC__) || defined(__clang__)
#define STACKLESS_HOT inline __attribute__((always_inline))
#else
#define STACKLESS_HOT inline
#endif
