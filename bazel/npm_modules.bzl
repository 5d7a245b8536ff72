"""node_modules from the npm registry for the Node example and its test.

`npm ci` installs exactly what the committed package-lock.json names (the npm registry is the one
network source besides Debian's apt). Install scripts are not run.

Where npm or its registry is unreachable the repository is still made, empty but for a file
NPM_UNAVAILABLE saying why, so that every other test builds and runs and the Node client test
skips with that reason. (Bazel caches the outcome: `bazel sync --only=npm` tries again.)
"""

def _npm_modules_impl(rctx):
    rctx.file("package.json", rctx.read(rctx.attr.package_json))
    rctx.file("package-lock.json", rctx.read(rctx.attr.package_lock))
    reason = None
    if rctx.which("npm") == None:
        reason = "npm is not installed"
    else:
        result = rctx.execute(
            [
                "npm",
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                # An unreachable registry fails in seconds, not after minutes of backoff.
                "--fetch-retries=1",
                "--fetch-retry-mintimeout=1000",
                "--fetch-retry-maxtimeout=5000",
            ],
            timeout = 600,
        )
        if result.return_code != 0:
            first_line = result.stderr.strip().split("\n")[0] if result.stderr.strip() else ""
            reason = "npm ci failed, is the npm registry reachable? (%s)" % (
                first_line or "exit %d" % result.return_code
            )
    if reason != None:
        print("npm modules unavailable, the Node client test will be skipped: " + reason)
        rctx.file("NPM_UNAVAILABLE", reason + "\n")
    else:
        rctx.file("NPM_UNAVAILABLE", "")  # Empty: the modules are there.
    rctx.file("BUILD.bazel", """filegroup(
    name = "node_modules",
    srcs = glob(["node_modules/**"]) + ["NPM_UNAVAILABLE"],
    visibility = ["//visibility:public"],
)
""")
    rctx.file("WORKSPACE", "")

npm_modules = repository_rule(
    implementation = _npm_modules_impl,
    # A registry set for the fetch (--repo_env=npm_config_registry=...) refetches.
    environ = ["npm_config_registry"],
    attrs = {
        "package_json": attr.label(mandatory = True, allow_single_file = True),
        "package_lock": attr.label(mandatory = True, allow_single_file = True),
    },
)
