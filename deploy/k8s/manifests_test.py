#!/usr/bin/python3
"""Renders the Kubernetes manifests with `kubectl kustomize` and checks the parts that matter:
gRPC probes on the gRPC ports, backend Services that the orchestrator's targets name, drain
inside the grace period, connection age, resources, autoscaling, disruption budgets, and the
pipeline ConfigMap.

Run from the repository root (Bazel runs it from its runfiles): /usr/bin/python3 deploy/k8s/manifests_test.py
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

BASE = "deploy/k8s/base"
PRODUCTION = "deploy/k8s/overlays/production"
SESSION_SCALING = "deploy/k8s/overlays/session-scaling"
# Voxflow's own servers (the session store, Redis, is checked on its own).
SERVERS = {"stt", "tts", "orchestrator", "gateway"}
PIPELINE = "services/orchestrator/pipelines/voice_chat.textproto"


def render(path):
    # kustomize refuses files that are symlinks out of the kustomization (Bazel's runfiles are):
    # render a real copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "k8s")
        shutil.copytree("deploy/k8s", copy, symlinks=False)
        out = subprocess.run(["kubectl", "kustomize", os.path.join(copy, os.path.relpath(path, "deploy/k8s"))],
                             capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def flag(args, name):
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def seconds(duration):
    """absl durations as the manifests use them: 30s, 10m, 2h."""
    m = re.fullmatch(r"(\d+)([smh])", duration)
    if not m:
        raise ValueError(f"unexpected duration {duration!r}")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = render(BASE)
        cls.deployments = by_kind(cls.docs, "Deployment")
        cls.services = by_kind(cls.docs, "Service")

    def container(self, name):
        return self.deployments[name]["spec"]["template"]["spec"]["containers"][0]

    def test_every_service_is_deployed(self):
        self.assertEqual(set(self.deployments), SERVERS | {"redis"})
        self.assertEqual(set(self.services), SERVERS | {"redis"})

    def test_probes_are_native_grpc_on_the_grpc_port(self):
        for name in SERVERS:
            c = self.container(name)
            port = int(flag(c["args"], "port"))
            self.assertEqual([p["containerPort"] for p in c["ports"] if p["name"] == "grpc"], [port])
            self.assertEqual(c["livenessProbe"]["grpc"]["port"], port, f"{name} livenessProbe")
            if name == "gateway":
                continue  # Ready means not draining: /healthz (test_gateway_is_reached_over_http).
            self.assertEqual(c["readinessProbe"]["grpc"]["port"], port, f"{name} readinessProbe")
            # Readiness asks for the service itself, as each server registers it for health.
            self.assertTrue(c["readinessProbe"]["grpc"]["service"].startswith("voxflow.v1."))

    def test_metrics_port_is_annotated_for_scraping(self):
        for name in SERVERS:
            deployment = self.deployments[name]
            template = deployment["spec"]["template"]
            c = self.container(name)
            port = int(flag(c["args"], "metrics_port"))
            self.assertIn({"name": "metrics", "containerPort": port}, c["ports"])
            annotations = template["metadata"]["annotations"]
            self.assertEqual(annotations["prometheus.io/scrape"], "true")
            self.assertEqual(int(annotations["prometheus.io/port"]), port)

    def test_orchestrator_targets_name_the_headless_backend_services(self):
        args = self.container("orchestrator")["args"]
        for backend in ("stt", "tts"):
            target = flag(args, f"{backend}_target")
            m = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", target)
            self.assertIsNotNone(m, target)
            service, namespace, port = m.group(1), m.group(2), int(m.group(3))
            self.assertIn(service, self.services)
            svc = self.services[service]
            self.assertEqual(svc["metadata"]["namespace"], namespace)
            self.assertEqual(svc["spec"].get("clusterIP"), "None", "headless: DNS gives every pod")
            self.assertIn(port, [p["port"] for p in svc["spec"]["ports"]])
            self.assertEqual(port, int(flag(self.container(service)["args"], "port")))
            self.assertEqual(svc["spec"]["selector"],
                             self.deployments[service]["spec"]["selector"]["matchLabels"])

    def test_grace_period_exceeds_prestop_and_drain(self):
        for name in SERVERS:
            deployment = self.deployments[name]
            spec = deployment["spec"]["template"]["spec"]
            c = self.container(name)
            pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
            drain = seconds(flag(c["args"], "drain_timeout"))
            self.assertGreater(spec["terminationGracePeriodSeconds"], pre_stop + drain, name)

    def test_connections_age_out_with_grace_for_a_conversation(self):
        for name in ("stt", "tts", "orchestrator"):  # The gateway's calls are WebSockets.
            args = self.container(name)["args"]
            self.assertGreaterEqual(seconds(flag(args, "max_connection_age")), 600, name)
            self.assertGreaterEqual(seconds(flag(args, "max_connection_age_grace")), 600, name)

    def test_resources_autoscaling_and_disruption_budgets(self):
        hpas = by_kind(self.docs, "HorizontalPodAutoscaler")
        pdbs = by_kind(self.docs, "PodDisruptionBudget")
        for name in SERVERS:
            deployment = self.deployments[name]
            resources = self.container(name)["resources"]
            for kind in ("requests", "limits"):
                self.assertEqual(set(resources[kind]), {"cpu", "memory"}, f"{name} {kind}")
            self.assertEqual(hpas[name]["spec"]["scaleTargetRef"]["name"], name)
            self.assertGreaterEqual(hpas[name]["spec"]["minReplicas"], 2)
            self.assertEqual(pdbs[name]["spec"]["selector"]["matchLabels"],
                             deployment["spec"]["selector"]["matchLabels"])

    def test_sessions_are_kept_in_the_redis_service_and_move_within_a_turn(self):
        c = self.container("orchestrator")
        m = re.fullmatch(r"redis://([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)",
                         flag(c["args"], "session_store"))
        self.assertIsNotNone(m, flag(c["args"], "session_store"))
        redis = self.services[m.group(1)]
        self.assertEqual(redis["metadata"]["namespace"], m.group(2))
        self.assertIn(int(m.group(3)), [p["port"] for p in redis["spec"]["ports"]])
        self.assertEqual(redis["spec"]["selector"],
                         self.deployments["redis"]["spec"]["selector"]["matchLabels"])
        redis_container = self.deployments["redis"]["spec"]["template"]["spec"]["containers"][0]
        self.assertIn(int(m.group(3)), [p["containerPort"] for p in redis_container["ports"]])
        self.assertEqual(set(redis_container["resources"]["limits"]), {"cpu", "memory"})
        # The resume key: a Secret every replica mounts.
        key = flag(c["args"], "resume_key_file")
        mount = [v for v in c["volumeMounts"] if key.startswith(v["mountPath"] + "/")]
        self.assertEqual(len(mount), 1, key)
        volumes = self.deployments["orchestrator"]["spec"]["template"]["spec"]["volumes"]
        secret = [v["secret"]["secretName"] for v in volumes if v["name"] == mount[0]["name"]]
        self.assertEqual(secret, ["voxflow-resume-key"])
        # The grace period is sized to a turn (the move's bound), not to a call.
        move = seconds(flag(c["args"], "move_bound"))
        drain = seconds(flag(c["args"], "drain_timeout"))
        self.assertGreater(drain, move)
        grace = self.deployments["orchestrator"]["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"]
        self.assertLessEqual(grace, 120)

    def test_session_scaling_overlay(self):
        docs = render(SESSION_SCALING)
        scaled = by_kind(docs, "ScaledObject")["orchestrator"]
        self.assertEqual(scaled["metadata"]["namespace"], "voxflow")
        self.assertEqual(scaled["spec"]["scaleTargetRef"]["name"], "orchestrator")
        self.assertGreaterEqual(scaled["spec"]["minReplicaCount"], 2)
        triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
        self.assertIn('voxflow_active_streams{service="orchestrator"}',
                      triggers["prometheus"]["metadata"]["query"])
        # Within what one replica serves (--max_sessions).
        max_sessions = int(flag(by_kind(docs, "Deployment")["orchestrator"]["spec"]["template"][
            "spec"]["containers"][0]["args"], "max_sessions"))
        self.assertLess(int(triggers["prometheus"]["metadata"]["threshold"]), max_sessions)
        # KEDA owns the orchestrator's autoscaler; the others keep theirs.
        hpas = by_kind(docs, "HorizontalPodAutoscaler")
        self.assertNotIn("orchestrator", hpas)
        self.assertEqual(set(hpas), SERVERS - {"orchestrator"})

    def test_gateway_is_reached_over_http(self):
        c = self.container("gateway")
        http_port = int(flag(c["args"], "http_port"))
        self.assertIn({"name": "http", "containerPort": http_port}, c["ports"])
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
        target = flag(c["args"], "orchestrator_target")
        m = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", target)
        self.assertIsNotNone(m, target)
        self.assertEqual(m.group(1), "orchestrator")
        self.assertEqual(int(m.group(3)), int(flag(self.container("orchestrator")["args"], "port")))
        svc = self.services["gateway"]
        self.assertEqual([p["targetPort"] for p in svc["spec"]["ports"]], ["http"])

    def test_pipelines_come_from_the_configmap(self):
        c = self.container("orchestrator")
        mount = [m for m in c["volumeMounts"] if m["mountPath"] == flag(c["args"], "pipelines_dir")]
        self.assertEqual(len(mount), 1)
        volumes = self.deployments["orchestrator"]["spec"]["template"]["spec"]["volumes"]
        config_map = [v["configMap"]["name"] for v in volumes if v["name"] == mount[0]["name"]][0]
        data = by_kind(self.docs, "ConfigMap")[config_map]["data"]
        with open(PIPELINE) as f:
            self.assertEqual(data["voice_chat.textproto"], f.read(),
                             "deploy/k8s/base/pipelines/ is a copy of " + PIPELINE)

    def test_production_overlay(self):
        docs = render(PRODUCTION)
        self.assertEqual(by_kind(docs, "Service")["orchestrator"]["spec"]["type"], "LoadBalancer")
        # The gateway behind an Ingress that keeps WebSockets open for a whole call.
        ingress = by_kind(docs, "Ingress")["gateway"]
        annotations = ingress["metadata"]["annotations"]
        self.assertGreaterEqual(int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]),
                                600)
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        self.assertEqual(backend["name"], "gateway")
        for d in by_kind(docs, "Deployment").values():
            image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            self.assertRegex(image, r":\d+\.\d+\.\d+$", "production pins image tags")


if __name__ == "__main__":
    unittest.main()
