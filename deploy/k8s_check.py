"""Renders each kustomize overlay and validates it: Kubernetes schemas, pod hardening, service env."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from deploy import dockerfile
from deploy.envcheck import Problem, check_env, read_env_file, service_of_image
from deploy.settings_catalogue import ServiceCatalogue

KUBERNETES_VERSION = "1.33"  # the oldest minor version the manifests are validated for
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def kustomize_command() -> list[str] | None:
    """A standalone kustomize, else the one built into kubectl (`kubectl kustomize`)."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(overlay: Path) -> tuple[list[dict[str, Any]], str | None]:
    command = kustomize_command()
    if command is None:
        return [], (
            "cannot render: neither kustomize nor kubectl is on PATH "
            "(install kubectl ≥ 1.27, which bundles kustomize v5, or kustomize v5)"
        )
    done = subprocess.run(
        [*command, str(overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        return [], f"{' '.join(command)} failed: {done.stderr.strip()}"
    return [d for d in yaml.safe_load_all(done.stdout) if d], None


def check(
    k8s_dir: Path, root: Path, catalogue: dict[str, ServiceCatalogue]
) -> tuple[list[Problem], list[str]]:
    overlays = sorted(p.parent for p in (k8s_dir / "overlays").glob("*/kustomization.yaml"))
    if not overlays:
        return [Problem(str(k8s_dir.relative_to(root)), "no overlay under overlays/")], []
    problems: list[Problem] = []
    notes = []
    image_env = dockerfile.stages(root / "deploy" / "Dockerfile")
    if kustomize_command() is None:
        # No renderer on this machine: say so plainly rather than fail a CI that cannot have one.
        return [], [
            f"{k8s_dir.relative_to(root)}: NOT rendered or validated: neither kustomize nor "
            "kubectl is on PATH (install kubectl ≥ 1.27 or kustomize v5 to check the manifests)"
        ]
    for overlay in overlays:
        where = str(overlay.relative_to(root))
        documents, error = render(overlay)
        if error:
            problems.append(Problem(where, error))
            continue
        found = check_rendered(documents, overlay, where, catalogue, image_env)
        problems += found
        notes.append(
            f"{where}: {len(documents)} rendered objects valid against the Kubernetes "
            f"{KUBERNETES_VERSION} schemas (strict); pods hardened; service env matches settings"
        )
    return problems, notes


def check_rendered(
    documents: list[dict[str, Any]],
    overlay: Path,
    where: str,
    catalogue: dict[str, ServiceCatalogue],
    image_stages: dict[str, dockerfile.Stage],
) -> list[Problem]:
    problems = []
    for document in documents:
        problems += validate_schema(document, where)
    objects = {(d.get("kind"), _name(d)): d for d in documents}
    seen: set[str] = set()
    for document in documents:
        if document.get("kind") not in WORKLOADS:
            continue
        here = f"{where} {document['kind']}/{_name(document)}"
        pod = document.get("spec", {}).get("template", {}).get("spec", {})
        problems += _hardening(pod, here)
        for container, init in _containers(pod):
            spot = f"{here} container {container.get('name')}"
            kind = service_of_image(str(container.get("image", "")))
            if not init:
                problems += _probes(container, spot)
            if kind is None:
                continue
            if kind not in catalogue:
                problems.append(Problem(spot, f"no Samverkan service {kind!r}"))
                continue
            seen.add(kind)
            env, missing = _environment(container, objects, overlay, image_stages, kind)
            problems += [Problem(spot, m) for m in missing]
            problems += check_env(catalogue[kind], env, spot)
            principal = env.get("SAMVERKAN_PRINCIPAL")
            if principal != overlay.name:
                problems.append(
                    Problem(spot, f"SAMVERKAN_PRINCIPAL is {principal!r} in overlay {overlay.name}")
                )
    problems += [
        Problem(where, f"no workload runs samverkan-{s}") for s in sorted(set(catalogue) - seen)
    ]
    problems += _services_select_pods(documents, where)
    return problems


def validate_schema(document: dict[str, Any], where: str) -> list[Problem]:
    here = f"{where} {document.get('kind')}/{_name(document)}"
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(top level)"
        return [Problem(here, f"{path}: {exc.message}")]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [Problem(here, exc.message)]
    except (KeyError, TypeError) as exc:
        return [Problem(here, f"not a Kubernetes object (missing {exc})")]
    return []


def _hardening(pod: dict[str, Any], here: str) -> list[Problem]:
    problems = []
    pod_security = pod.get("securityContext", {})
    for container, _ in _containers(pod):
        spot = f"{here} container {container.get('name')}"
        security = container.get("securityContext", {})
        if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
            problems.append(Problem(spot, "runAsNonRoot is not set (pod or container)"))
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(Problem(spot, "readOnlyRootFilesystem must be true"))
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(Problem(spot, "allowPrivilegeEscalation must be false"))
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            problems.append(Problem(spot, "capabilities must drop ALL"))
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            lacking = {"cpu", "memory"} - set(resources.get(part, {}))
            if lacking:
                problems.append(
                    Problem(spot, f"resources.{part} lacks {', '.join(sorted(lacking))}")
                )
    return problems


def _probes(container: dict[str, Any], spot: str) -> list[Problem]:
    problems = []
    ports = {p.get("name") for p in container.get("ports", [])} | {
        p.get("containerPort") for p in container.get("ports", [])
    }
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path:
            problems.append(Problem(spot, f"{probe} must GET {path}"))
        elif get.get("port") not in ports:
            problems.append(
                Problem(spot, f"{probe} port {get.get('port')!r} is not a container port")
            )
    return problems


def _environment(
    container: dict[str, Any],
    objects: dict[tuple[Any, Any], dict[str, Any]],
    overlay: Path,
    image_stages: dict[str, dockerfile.Stage],
    kind: str,
) -> tuple[dict[str, str], list[str]]:
    """The container's env as the kubelet builds it: image ENV < envFrom (in order) < env."""
    image_env = dockerfile.env_of(image_stages, kind)
    env = {k: v for k, v in image_env.items() if k.startswith(("SAMVERKAN_", "KAFKA_"))}
    missing = []
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        kind_of = "ConfigMap" if "configMapRef" in source else "Secret"
        data = _data(kind_of, ref.get("name"), objects, overlay)
        if data is None:
            if not ref.get("optional"):
                missing.append(_unresolved(kind_of, ref.get("name"), overlay))
            continue
        env.update({prefix + k: v for k, v in data.items()})
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
            continue
        source = variable.get("valueFrom", {})
        ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
        if ref is None:
            env[variable["name"]] = "0" * 40  # a field reference: known only at run time
            continue
        kind_of = "ConfigMap" if "configMapKeyRef" in source else "Secret"
        data = _data(kind_of, ref.get("name"), objects, overlay)
        if data is None or ref.get("key") not in data:
            if not ref.get("optional"):
                missing.append(f"{variable['name']}: {kind_of} key {ref.get('key')!r} not found")
            continue
        env[variable["name"]] = data[ref["key"]]
    return env, missing


def _data(
    kind: str, name: str | None, objects: dict[tuple[Any, Any], dict[str, Any]], overlay: Path
) -> dict[str, str] | None:
    rendered = objects.get((kind, name))
    if rendered is not None:
        data = dict(rendered.get("data") or {})
        if kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()}
            data |= rendered.get("stringData") or {}
        return data
    example = overlay / "secrets.example" / f"{name}.env"
    if kind == "Secret" and example.is_file():
        return read_env_file(example)[0]
    return None


def _unresolved(kind: str, name: str | None, overlay: Path) -> str:
    if kind == "Secret":
        return (
            f"Secret {name!r} is neither rendered nor described by "
            f"{overlay.name}/secrets.example/{name}.env"
        )
    return f"ConfigMap {name!r} is not part of the rendered overlay"


def _services_select_pods(documents: list[dict[str, Any]], where: str) -> list[Problem]:
    pods = [d.get("spec", {}).get("template", {}) for d in documents if d.get("kind") in WORKLOADS]
    problems = []
    for service in (d for d in documents if d.get("kind") == "Service"):
        selector = service.get("spec", {}).get("selector") or {}
        matching = [
            p
            for p in pods
            if selector.items() <= (p.get("metadata", {}).get("labels") or {}).items()
        ]
        here = f"{where} Service/{_name(service)}"
        if not matching:
            problems.append(Problem(here, f"selector {selector} matches no pod template"))
            continue
        names = {
            port.get("name")
            for pod in matching
            for container, _ in _containers(pod.get("spec", {}))
            for port in container.get("ports", [])
        }
        for port in service.get("spec", {}).get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str) and target not in names:
                problems.append(Problem(here, f"targetPort {target!r} is no container port name"))
    return problems


def _containers(pod: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    return [(c, False) for c in pod.get("containers", [])] + [
        (c, True) for c in pod.get("initContainers", [])
    ]


def _name(document: dict[str, Any]) -> str:
    return str((document.get("metadata") or {}).get("name"))
