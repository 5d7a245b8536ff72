#!/usr/bin/env bash
# Bazel's entry point for browser_test.py (Debian's Python).
exec /usr/bin/python3 tests/browser_test.py
