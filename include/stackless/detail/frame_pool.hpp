#pragma once
/// Coroutine frame allocation: per-thread size-class free lists carved from slabs, so that
/// spawning a tasklet or calling a task does not reach malloc in steady state
/// (ARCHITECTURE.md section 2). Built with STACKLESS_NO_FRAME_POOL, every frame comes from
/// ::operator new instead (for valgrind); under AddressSanitizer freed blocks are poisoned.

#include <cstddef>

namespace stackless::detail {

/// allocate_frame returns `bytes` of storage aligned for any coroutine frame. Throws
/// std::bad_alloc when memory is exhausted.
void* allocate_frame(std::size_t bytes);

/// deallocate_frame returns storage from allocate_frame; `bytes` must be the size asked for.
/// Any thread may free a block that another thread allocated.
void deallocate_frame(void* block, std::size_t bytes) noexcept;

/// live_frames is the number of blocks allocated and not yet freed, in the whole process:
/// the leak guard of the tests asserts it returns to zero.
std::ptrdiff_t live_frames() noexcept;

}  // namespace stackless::detail
