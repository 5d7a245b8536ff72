#!/usr/bin/python3
"""Keeps deploy/docker/Dockerfile in step with what the servers need.

Images cannot be built here (no registry), so this checks the Dockerfile against the binaries
Bazel built: every shared library a server loads directly (its ELF NEEDED entries) must come from
a package its image installs, from one of their dependencies, or from debian:bookworm-slim itself;
and the build stage must run scripts/bootstrap, so it has exactly CI's packages.
"""
import os
import re
import subprocess
import unittest

DOCKERFILE = "deploy/docker/Dockerfile"
SERVERS = {
    "stt": "services/stt/stt_server",
    "tts": "services/tts/tts_server",
    "orchestrator": "services/orchestrator/orchestrator_server",
    "gateway": "services/gateway/gateway_server",
}
# In debian:bookworm-slim already (apt and dpkg depend on them).
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def stages(text):
    """{stage name: (parent stage, [packages apt-get installs in it])}."""
    result, name = {}, None
    for block in re.split(r"\n(?=FROM )", text):
        m = re.match(r"FROM (\S+) AS (\S+)", block)
        if not m:
            continue
        parent, name = m.group(1), m.group(2)
        packages = []
        for install in re.findall(r"apt-get install -y --no-install-recommends((?:[^&]|\\\n)*)",
                                  block):
            packages += [p for p in install.replace("\\\n", " ").split() if not p.startswith("-")]
        result[name] = (parent, packages)
    return result


SANITIZER_RUNTIMES = {"libasan8", "libtsan2", "libubsan1", "liblsan0"}


def image_packages(all_stages, name):
    packages = []
    while name in all_stages:
        parent, own = all_stages[name]
        packages += own
        name = parent
    return set(packages)


def depends(package):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", package], capture_output=True,
                         text=True).stdout
    return {alt.split()[0].split(":")[0] for dep in out.split(",") for alt in dep.split("|")
            if alt.strip()}


def needed_packages(binary):
    elf = subprocess.run(["readelf", "-d", binary], check=True, capture_output=True, text=True)
    sonames = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", elf.stdout)
    # One dpkg query for all of them (it scans every package's file list).
    owners = subprocess.run(["dpkg", "-S"] + [f"*/{soname}" for soname in sonames],
                            capture_output=True, text=True).stdout
    owner = {}
    for line in owners.splitlines():
        package, _, path = line.partition(": ")
        package = package.split(":")[0].split(",")[0]
        if "i386" not in package:
            owner.setdefault(os.path.basename(path), package)
    return {owner.get(soname, f"?{soname}") for soname in sonames}


class ImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOCKERFILE) as f:
            cls.text = f.read()
        cls.stages = stages(cls.text)

    def test_build_stage_runs_bootstrap(self):
        self.assertIn("RUN scripts/bootstrap", self.text)
        self.assertEqual(self.stages["build"][0], "debian:bookworm-slim")

    def test_each_image_installs_what_its_server_loads(self):
        for image, binary in SERVERS.items():
            installed = image_packages(self.stages, image)
            self.assertTrue(installed, image)
            provided = set(installed) | BASE
            for package in installed:
                provided |= depends(package)
            # A sanitizer build (make asan/tsan/ubsan) links its runtime; images ship release
            # builds, which do not.
            missing = needed_packages(binary) - provided - SANITIZER_RUNTIMES
            self.assertFalse(missing, f"image {image} lacks packages for {binary}: {missing}")
            self.assertIn(f"COPY --from=build /out/{binary.split('/')[-1]} ", self.text)

    def test_the_session_store_image_is_debians_redis(self):
        self.assertEqual(self.stages["redis"][0], "debian:bookworm-slim")
        self.assertIn("redis-server", image_packages(self.stages, "redis"))

    def test_engine_data_is_in_the_engine_images(self):
        self.assertIn("pocketsphinx-en-us", image_packages(self.stages, "stt"))
        self.assertIn("espeak-ng-data", image_packages(self.stages, "tts"))


if __name__ == "__main__":
    unittest.main()
