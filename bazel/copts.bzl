"""Compiler options for Voxflow's own code (generated code and system headers are exempt)."""

VOXFLOW_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
]
