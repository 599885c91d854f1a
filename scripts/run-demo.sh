#!/usr/bin/env bash
# Runs the demo programs of a build tree (make demo): the robots microsimulation with its
# defaults (100,000 robots, 10000x10000 arena, 10 rounds), then the seed examples and the
# component pipeline.
set -euo pipefail
build=${1:-build/release}
echo "=== robots"
"$build/examples/robots"
for example in chicken_egg reader_writer yes_no bad_channel select worker_pool; do
  echo "=== $example"
  "$build/examples/$example"
done
# Components: grep as a pipeline (file_reader, line_splitter, filter, a counter, console),
# run on its own source.
echo "=== pipeline (grep co_await examples/pipeline.cpp)"
"$build/examples/pipeline" "$(dirname "$0")/../examples/pipeline.cpp" co_await
# Agents: a signed C kernel travels to three sites as bytes, is compiled there with TCC, and
# brings the total home; a tampered copy is refused.
echo "=== mobile_agent"
"$build/examples/mobile_agent"
