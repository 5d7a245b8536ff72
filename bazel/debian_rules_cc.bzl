"""Debian's rules_cc, patched for Bazel 4.2.3.

Debian ships a rules_cc newer than its Bazel: it loads `use_cpp_toolchain`, which 4.2.3 lacks. This
rule copies /usr/share/bazel/rules/cc and replaces that symbol with the toolchain type it stands for.
"""

_RULES_CC = "/usr/share/bazel/rules/cc"

def _debian_rules_cc_impl(rctx):
    if not rctx.path(_RULES_CC).exists:
        fail("%s is missing: run scripts/bootstrap (package bazel-rules-cc)" % _RULES_CC)
    rctx.execute(["cp", "-r", _RULES_CC + "/.", "."])
    found = rctx.execute(["grep", "-rl", "use_cpp_toolchain", "."]).stdout.splitlines()
    for f in found:
        content = rctx.read(f)
        content = content.replace(', "use_cpp_toolchain"', "")
        content = content.replace("use_cpp_toolchain()", '["@bazel_tools//tools/cpp:toolchain_type"]')
        rctx.file(f, content)

debian_rules_cc = repository_rule(implementation = _debian_rules_cc_impl, local = True)
