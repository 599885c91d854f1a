# The two commands of the README. Each installs what is missing, configures with CMake
# presets, builds with Ninja and runs.
.PHONY: demo test bench deps format format-check clean

SANITIZER_PRESETS := asan tsan
TEST_PRESETS := dev clang $(SANITIZER_PRESETS)

deps:
	@scripts/install-deps.sh

demo: deps
	cmake --preset release >/dev/null
	cmake --build --preset release
	scripts/run-demo.sh build/release

test: deps
	@set -e; for p in $(TEST_PRESETS); do \
	  echo "=== preset $$p"; \
	  cmake --preset $$p >/dev/null; \
	  cmake --build --preset $$p; \
	  ctest --preset $$p; \
	done

bench: deps
	bench/run.sh

format:
	clang-format -i $$(git ls-files '*.hpp' '*.cpp')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.hpp' '*.cpp')

clean:
	rm -rf build
