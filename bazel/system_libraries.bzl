"""System libraries from Debian's -dev packages as cc_library targets.

Each library is a list of pkg-config modules and/or raw linker flags ("-lfoo"). pkg-config decides
the link flags and defines, so they follow whatever Debian ships; a missing module fails the fetch
with the package hint instead of a link error much later.
"""

# Searched by the compiler anyway.
_DEFAULT_INCLUDE_DIRS = ["/usr/include", "/usr/include/x86_64-linux-gnu"]

def _flags(rctx, name, modules, hint):
    result = rctx.execute(["pkg-config", "--cflags", "--libs"] + modules)
    if result.return_code != 0:
        fail("system library '%s': pkg-config %s failed (%s). Run scripts/bootstrap%s." % (
            name,
            " ".join(modules),
            result.stderr.strip(),
            (" (package " + hint + ")") if hint else "",
        ))
    return [t for t in result.stdout.replace("\n", " ").split(" ") if t]

def _system_libraries_impl(rctx):
    out = [
        'load("@rules_cc//cc:defs.bzl", "cc_library")',
        'package(default_visibility = ["//visibility:public"])',
        "",
    ]
    for name, items in rctx.attr.libraries.items():
        modules = [i[len("pkg:"):] for i in items if i.startswith("pkg:")]
        raw = [i for i in items if not i.startswith("pkg:")]
        tokens = raw + (_flags(rctx, name, modules, rctx.attr.hints.get(name, "")) if modules else [])
        defines, linkopts, includes = [], [], []
        for t in tokens:
            if t.startswith("-D"):
                if t[2:] not in defines:
                    defines.append(t[2:])
            elif t.startswith("-I"):
                path = t[2:]
                if path in _DEFAULT_INCLUDE_DIRS:
                    continue
                # An extra include directory (e.g. /usr/include/sphinxbase): linked into this
                # repository so that `includes` can pass it on to every dependent.
                link = "include/%s%s" % (name, path.replace("/", "_"))
                rctx.symlink(path, link)
                includes.append(link)
            else:
                linkopts.append(t)
        out.append("cc_library(name = %r, defines = %r, linkopts = %r, includes = %r, hdrs = glob(%r))" % (
            name,
            defines,
            linkopts,
            includes,
            [i + "/**/*.h" for i in includes],
        ))
    rctx.file("BUILD.bazel", "\n".join(out) + "\n")
    rctx.file("WORKSPACE", "")

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    attrs = {
        "libraries": attr.string_list_dict(mandatory = True),
        "hints": attr.string_dict(),
    },
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
