"""A libFuzzer target and the replay of its committed seed corpus (see fuzz/README.md)."""

load("//bazel:defs.bzl", "voxflow_cc_binary", "voxflow_cc_library", "voxflow_cc_test")

FUZZ_TARGETS = [
    "audio_converter_fuzzer",
    "converse_session_fuzzer",
    "gateway_messages_fuzzer",
    "jitter_buffer_fuzzer",
    "pipeline_spec_fuzzer",
    "tts_session_fuzzer",
]

def voxflow_fuzz_target(name, deps):
    """`name`: the fuzzer (clang, --config=fuzz only); `name`_corpus_test: the seeds under gcc."""
    voxflow_cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = [name + ".cc"],
        deps = deps + ["//fuzz:fuzz_input"],
        alwayslink = True,
    )
    voxflow_cc_binary(
        name = name,
        testonly = True,
        deps = [":" + name + "_lib"],
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
    )
    voxflow_cc_test(
        name = name + "_corpus_test",
        srcs = ["corpus_replay_test.cc"],
        local_defines = ["FUZZ_CORPUS=\\\"fuzz/corpus/" + name + "\\\""],
        data = native.glob(["corpus/" + name + "/*"]),
        deps = [
            ":" + name + "_lib",
            "@system//:gtest_main",
        ],
    )
