#!/usr/bin/python3
"""Prints one line 'N passed, N failed' from the test results of a `bazel test` run.

Counts test cases in each target's gtest XML under bazel-testlogs. A target that Bazel reports as
failed (build failure, crash, sanitizer report at exit, timeout) but whose XML shows no failing
case counts as one failure, so the line never hides a red run.

Each "fuzz TARGET: ok|FAILED" line of the --fuzz_log file (scripts/fuzz) counts as one test.

Usage: test_summary.py [--fuzz_log FILE] BAZEL_TEST_LOG TARGET...
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

FUZZ_RESULT = re.compile(r"^fuzz \S+: (ok|FAILED)\b")
BAD_STATUS = re.compile(r"^(//\S+)\s+(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE|FLAKY)\b")


def count_cases(xml_path):
    passed = failed = skipped = 0
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        if case.get("status") == "notrun":
            continue
        if case.get("result") == "skipped" or case.find("skipped") is not None:
            skipped += 1
            reason = case.find("skipped")
            message = reason.get("message", "") if reason is not None else ""
            print(f"skipped: {case.get('classname')}.{case.get('name')}: {' '.join(message.split())}")
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    args = sys.argv[1:]
    fuzz_log = None
    if args and args[0] == "--fuzz_log":
        fuzz_log, args = args[1], args[2:]
    log_path, targets = args[0], args[1:]
    bad = set()
    with open(log_path, errors="replace") as log:
        for line in log:
            m = BAD_STATUS.match(line)
            if m:
                bad.add(m.group(1))
    passed = failed = skipped = 0
    for target in targets:
        package, _, name = target[2:].partition(":")
        xml_path = os.path.join("bazel-testlogs", package, name, "test.xml")
        p = f = s = 0
        if os.path.exists(xml_path):
            try:
                p, f, s = count_cases(xml_path)
            except ET.ParseError:
                f = 1
        elif target not in bad:
            continue  # Not run (e.g. filtered out by tags).
        if target in bad and f == 0:
            f = 1
        passed += p
        failed += f
        skipped += s
    if fuzz_log and os.path.exists(fuzz_log):
        with open(fuzz_log, errors="replace") as log:
            for line in log:
                m = FUZZ_RESULT.match(line)
                if m:
                    if m.group(1) == "ok":
                        passed += 1
                    else:
                        failed += 1
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f" ({skipped} skipped)"
    print(line)


if __name__ == "__main__":
    main()
