"""Compiler options for Voxflow's own code (generated code and system headers are exempt)."""

VOXFLOW_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    # Options structs are filled with designated initializers that rely on member defaults.
    "-Wno-missing-field-initializers",
]
