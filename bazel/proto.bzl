"""A .proto file as a cc_library with its protobuf and gRPC stubs.

protoc and grpc_cpp_plugin come from Debian (/usr/bin). The import root is `proto/`, so a file at
proto/voxflow/v1/stt.proto is imported as "voxflow/v1/stt.proto" and its header is included as
"voxflow/v1/stt.grpc.pb.h" — the same paths clients in other languages use.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

_IMPORT_ROOT = "proto"

def cc_grpc_proto_library(name, src, deps = [], grpc = True, visibility = None, testonly = False):
    """Generates <name> from `src`.

    Args:
      name: the cc_library's name.
      src: the .proto file, in this package.
      deps: cc_grpc_proto_library targets of the files `src` imports.
      grpc: whether `src` declares services (adds the .grpc.pb.* stubs and links gRPC).
      visibility: passed on.
      testonly: passed on.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    grpc_flags = ""
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        grpc_flags = "--grpc_out=$(GENDIR)/%s --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin" % _IMPORT_ROOT
    native.filegroup(
        name = name + "_proto_files",
        srcs = [src] + [d + "_proto_files" for d in deps],
        testonly = testonly,
    )
    native.genrule(
        name = name + "_gen",
        srcs = [src, ":" + name + "_proto_files"],
        outs = outs,
        testonly = testonly,
        cmd = "/usr/bin/protoc -I%s --cpp_out=$(GENDIR)/%s %s $(location %s)" % (
            _IMPORT_ROOT,
            _IMPORT_ROOT,
            grpc_flags,
            src,
        ),
    )
    cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        strip_include_prefix = "/" + _IMPORT_ROOT,
        # Register every linked file's descriptors, even if no code references them yet, so
        # server reflection can serve them.
        alwayslink = True,
        deps = deps + ["@system//:protobuf"] + (["@system//:grpc"] if grpc else []),
        visibility = visibility,
        testonly = testonly,
    )
