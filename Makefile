# Voxflow's two commands: `make demo` (the main job) and `make test` (every test, then one line
# "N passed, N failed"). Both install what they need first (scripts/bootstrap, as root).
# `make run`: the three services on their default ports until Ctrl-C, for your own client.
.PHONY: demo run test build bootstrap asan tsan ubsan fuzz format clean

demo: bootstrap
	scripts/demo

run: bootstrap
	scripts/run

test: bootstrap
	scripts/run_tests

build: bootstrap
	bazel build //...

# Sanitizer runs of the whole suite.
asan: bootstrap
	scripts/run_tests --config=asan
tsan: bootstrap
	scripts/run_tests --config=tsan
ubsan: bootstrap
	scripts/run_tests --config=ubsan

# libFuzzer targets with clang (fuzz/README.md): `make fuzz FUZZ_SECONDS=600` for a long run.
FUZZ_SECONDS ?= 30
fuzz: bootstrap
	scripts/fuzz $(FUZZ_SECONDS)

bootstrap:
	scripts/bootstrap

format:
	find services tools tests mocks bench fuzz -name '*.cc' -o -name '*.h' | xargs -r clang-format -i

clean:
	bazel clean
