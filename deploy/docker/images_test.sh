#!/usr/bin/env bash
# Bazel's entry point for images_test.py (Debian's Python).
exec /usr/bin/python3 deploy/docker/images_test.py -v
