"""cc rules for Voxflow's own code: our warnings as errors, sanitizer defaults in executables."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("//bazel:copts.bzl", "VOXFLOW_COPTS")

_SANITIZER_DEFAULTS = "//bazel:sanitizer_defaults"

def voxflow_cc_library(name, copts = [], **kwargs):
    cc_library(name = name, copts = VOXFLOW_COPTS + copts, **kwargs)

def voxflow_cc_binary(name, copts = [], deps = [], **kwargs):
    cc_binary(name = name, copts = VOXFLOW_COPTS + copts, deps = deps + [_SANITIZER_DEFAULTS], **kwargs)

def voxflow_cc_test(name, copts = [], deps = [], **kwargs):
    # main() comes from an object of the test itself, never from a shared library (see
    # //bazel:gtest_main).
    deps = [("//bazel:gtest_main" if d == "@system//:gtest_main" else d) for d in deps]

    # Static, so that the sanitizer hooks are in the executable, where the runtimes look for them.
    cc_test(
        name = name,
        copts = VOXFLOW_COPTS + copts,
        deps = deps + [_SANITIZER_DEFAULTS],
        linkstatic = True,
        **kwargs
    )
