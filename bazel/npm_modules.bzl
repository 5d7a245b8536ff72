"""node_modules from the npm registry for the Node example and its test.

`npm ci` installs exactly what the committed package-lock.json names (the npm registry is the one
network source besides Debian's apt). Install scripts are not run.
"""

def _npm_modules_impl(rctx):
    rctx.file("package.json", rctx.read(rctx.attr.package_json))
    rctx.file("package-lock.json", rctx.read(rctx.attr.package_lock))
    result = rctx.execute(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        timeout = 600,
    )
    if result.return_code != 0:
        fail("npm ci for %s failed (is the npm registry reachable?):\n%s" % (
            rctx.attr.package_json,
            result.stderr,
        ))
    rctx.file("BUILD.bazel", """filegroup(
    name = "node_modules",
    srcs = glob(["node_modules/**"]),
    visibility = ["//visibility:public"],
)
""")
    rctx.file("WORKSPACE", "")

npm_modules = repository_rule(
    implementation = _npm_modules_impl,
    attrs = {
        "package_json": attr.label(mandatory = True, allow_single_file = True),
        "package_lock": attr.label(mandatory = True, allow_single_file = True),
    },
)
