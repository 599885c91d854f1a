#!/usr/bin/env bash
# Runs the demo programs of a build tree (make demo). Until the robots simulation exists
# (issue 4), the demo is the seed examples.
set -euo pipefail
build=${1:-build/release}
for example in chicken_egg reader_writer yes_no bad_channel select; do
  echo "=== $example"
  "$build/examples/$example"
done
