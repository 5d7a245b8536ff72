#!/usr/bin/env bash
# Bazel's entry point for manifests_test.py (Debian's Python, with python3-yaml).
exec /usr/bin/python3 deploy/k8s/manifests_test.py -v
