#!/usr/bin/env python3
"""Offline checks of cnfwd's Kubernetes manifests (deploy/kubernetes/*.yaml).

    check_manifests.py --schemas DIR --out DIR MANIFEST...

- Custom resources (NetworkAttachmentDefinition, ServiceMonitor) are
  validated against the JSON schemas in --schemas (written from the
  upstream CRDs); a NetworkAttachmentDefinition's spec.config is parsed as
  JSON and validated against the CNI configuration schema.
- Every other document (core Kubernetes kinds) is written to OUT/core/ for
  kubernetes-validate, which knows their schemas.
- Cross-references that no schema sees: each network a pod template's
  k8s.v1.cni.cncf.io/networks annotation names is defined; its device
  plugin resource is requested by a container in the numbers attached;
  probes name container ports that exist; every cnfwd configuration in a
  ConfigMap names attachments (network_attachment = "ns/name") or
  interfaces that the pods mounting it have.
- Each cnfwd.toml found is written to OUT/cnfwd/<configmap>.toml, and, when
  it names network attachments, a copy with each attachment replaced by a
  pod annotations file as Multus would write it (network-status with
  device-info) to OUT/cnfwd/<configmap>.annotations, so `cnfwd check` can validate the
  rest of it with a cnfwd that does not resolve attachments.

Prints one line per problem and exits 1 if there is any.
"""

import argparse
import json
import pathlib
import re
import sys
import tomllib

import jsonschema
import yaml

CRD_SCHEMAS = {
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"):
        "network-attachment-definition-k8s.cni.cncf.io-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"):
        "servicemonitor-monitoring.coreos.com-v1.json",
}
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
RESOURCE_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"


class Checker:
    def __init__(self, schemas: pathlib.Path, out: pathlib.Path):
        self.schemas = schemas
        self.out = out
        self.problems: list[str] = []
        self.validators = {}
        for key, name in CRD_SCHEMAS.items():
            self.validators[key] = self.validator(name)
        self.cni = self.validator("cni-config.json")
        self.nads: dict[tuple[str, str], dict] = {}
        self.configmaps: dict[tuple[str, str], dict] = {}
        self.pods: list[tuple[str, str, dict]] = []  # (where, namespace, pod spec + annotations)
        self.counts = {"custom": 0, "core": 0, "cnfwd_configs": 0}

    def validator(self, name: str):
        schema = json.loads((self.schemas / name).read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema, format_checker=cls.FORMAT_CHECKER)

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def schema_errors(self, validator, doc, where: str) -> None:
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in e.absolute_path) or "(top)"
            self.problem(where, f"{path}: {e.message}")

    # ------------------------------------------------------------ documents
    def load(self, path: pathlib.Path) -> None:
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as e:
            self.problem(str(path), f"not YAML: {e}")
            return
        core = []
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            kind = doc.get("kind", "?")
            name = doc.get("metadata", {}).get("name", "?")
            where = f"{path.name}: {kind} {name}"
            key = (doc.get("apiVersion"), kind)
            if key in self.validators:
                self.counts["custom"] += 1
                self.schema_errors(self.validators[key], doc, where)
                if kind == "NetworkAttachmentDefinition":
                    self.nad(doc, where)
            else:
                self.counts["core"] += 1
                core.append(doc)
                self.index(doc, where)
        if core:
            target = self.out / "core" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(yaml.safe_dump_all(core, sort_keys=False))

    def nad(self, doc: dict, where: str) -> None:
        meta = doc.get("metadata", {})
        ns = meta.get("namespace", "default")
        self.nads[(ns, meta.get("name"))] = doc
        text = doc.get("spec", {}).get("config")
        if not isinstance(text, str):
            return
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            self.problem(where, f"spec.config is not JSON: {e}")
            return
        self.schema_errors(self.cni, config, f"{where} spec.config")
        if config.get("name") != meta.get("name"):
            self.problem(where, f"spec.config name {config.get('name')!r} differs from the object's name")
        if config.get("type") == "sriov" and RESOURCE_ANNOTATION not in meta.get("annotations", {}):
            self.problem(where, f"an sriov network needs the {RESOURCE_ANNOTATION} annotation (the device plugin pool)")

    def index(self, doc: dict, where: str) -> None:
        kind = doc.get("kind")
        meta = doc.get("metadata", {})
        ns = meta.get("namespace", "default")
        if kind == "ConfigMap":
            self.configmaps[(ns, meta.get("name"))] = doc
        elif kind in ("Deployment", "DaemonSet", "StatefulSet"):
            template = doc.get("spec", {}).get("template", {})
            self.pods.append((where, ns, template))

    # ------------------------------------------------------ cross-references
    def cross_check(self) -> None:
        for where, ns, template in self.pods:
            spec = template.get("spec", {})
            annotations = template.get("metadata", {}).get("annotations", {})
            attachments = self.attachments(where, ns, annotations)
            self.resources(where, ns, spec, attachments)
            self.probes(where, spec)
            self.pod_configs(where, ns, spec, attachments)
            for vname in {v["name"]: v for v in spec.get("volumes", [])}.values():
                cm_name = vname.get("configMap", {}).get("name")
                if cm_name and attachments:
                    self.write_network_status(ns, cm_name, attachments)
        for (ns, name), cm in self.configmaps.items():
            text = cm.get("data", {}).get("cnfwd.toml")
            if text is not None:
                self.write_config(ns, name, text)

    def attachments(self, where: str, ns: str, annotations: dict) -> list[dict]:
        text = annotations.get(NETWORKS_ANNOTATION)
        if text is None:
            return []
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            # The short form: "name1,ns/name2@if".
            items = []
            for part in text.split(","):
                part = part.strip()
                name, _, iface = part.partition("@")
                nns, _, nname = name.rpartition("/")
                items.append({"name": nname, "namespace": nns or ns, "interface": iface or None})
        out = []
        for item in items:
            item = dict(item)
            item.setdefault("namespace", ns)
            key = (item["namespace"], item["name"])
            if key not in self.nads:
                self.problem(where, f"network {key[0]}/{key[1]} of the networks annotation is defined in no manifest")
            out.append(item)
        ifaces = [i.get("interface") for i in out if i.get("interface")]
        if len(ifaces) != len(set(ifaces)):
            self.problem(where, f"interface names repeat in the networks annotation: {ifaces}")
        return out

    def resources(self, where: str, ns: str, spec: dict, attachments: list[dict]) -> None:
        needed: dict[str, int] = {}
        for a in attachments:
            nad = self.nads.get((a["namespace"], a["name"]))
            if nad is None:
                continue
            res = nad.get("metadata", {}).get("annotations", {}).get(RESOURCE_ANNOTATION)
            if res:
                needed[res] = needed.get(res, 0) + 1
        have: dict[str, int] = {}
        for c in spec.get("containers", []):
            res = c.get("resources", {})
            req, lim = res.get("requests", {}), res.get("limits", {})
            for r, v in lim.items():
                if "/" in r and not r.startswith("hugepages"):
                    if str(req.get(r, v)) != str(v):
                        self.problem(where, f"container {c['name']}: {r} request {req.get(r)} != limit {v}")
                    have[r] = have.get(r, 0) + int(v)
            for r in req:
                if r.startswith("hugepages-") and str(req[r]) != str(lim.get(r)):
                    self.problem(where, f"container {c['name']}: {r} request {req[r]} != limit {lim.get(r)}")
        for r, n in needed.items():
            if have.get(r, 0) != n:
                self.problem(where, f"{n} attachment(s) from pool {r} but the containers request {have.get(r, 0)}")

    def probes(self, where: str, spec: dict) -> None:
        for c in spec.get("containers", []):
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = c.get(probe, {}).get("httpGet")
                if http and isinstance(http.get("port"), str) and http["port"] not in ports:
                    self.problem(where, f"container {c['name']}: {probe} port {http['port']!r} is not a named port")

    def pod_configs(self, where: str, ns: str, spec: dict, attachments: list[dict]) -> None:
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec.get("containers", []):
            mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
            for vname in mounts:
                cm_name = volumes.get(vname, {}).get("configMap", {}).get("name")
                cm = self.configmaps.get((ns, cm_name)) if cm_name else None
                if cm is None or "cnfwd.toml" not in cm.get("data", {}):
                    continue
                self.check_cnfwd_config(f"{where} ConfigMap {cm_name}", cm["data"]["cnfwd.toml"],
                                        spec, c, mounts, volumes, attachments)

    def check_cnfwd_config(self, where, text, spec, container, mounts, volumes, attachments):
        try:
            cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            self.problem(where, f"cnfwd.toml is not TOML: {e}")
            return
        self.counts["cnfwd_configs"] += 1
        names = {f"{a['namespace']}/{a['name']}" for a in attachments}
        ifaces = {a.get("interface") for a in attachments if a.get("interface")}
        uses_attachments = False
        for port in cfg.get("ports", []):
            for field in ("device", "interface"):
                value = port.get(field)
                if isinstance(value, dict):
                    uses_attachments = True
                    ref = value.get("network_attachment")
                    if ref not in names:
                        self.problem(where, f"port {port.get('name')}: {field}.network_attachment {ref!r} is not attached to the pod ({sorted(names)})")
                elif field == "interface" and isinstance(value, str) and not spec.get("hostNetwork"):
                    if value not in ifaces:
                        self.problem(where, f"port {port.get('name')}: interface {value!r} is no interface of the pod's networks annotation ({sorted(ifaces)})")
        if uses_attachments:
            ok = any(volumes.get(n, {}).get("downwardAPI") and m.get("mountPath") == "/etc/podnetinfo"
                     for n, m in mounts.items())
            if not ok:
                self.problem(where, "ports name network attachments but the container does not mount the pod's annotations at /etc/podnetinfo")
        listen = cfg.get("metrics", {}).get("listen", "")
        if container.get("livenessProbe", {}).get("httpGet") and listen.startswith("127."):
            self.problem(where, f"[metrics] listen = {listen!r}: the kubelet probes the pod's address, not the loopback")

    def write_config(self, ns: str, name: str, text: str) -> None:
        d = self.out / "cnfwd"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{ns}-{name}.toml").write_text(text)

    def write_network_status(self, ns: str, cm_name: str, attachments: list[dict]) -> None:
        """The downward-API annotations file Multus and the SR-IOV CNI would
        give a pod with these attachments (network-status with NPWG
        device-info, PCI addresses made up, interfaces net1, net2, ... unless
        the annotation names them), as `key="Go-quoted value"` lines, so
        `cnfwd check --pod-annotations` resolves the ConfigMap's attachments
        the way it will in the pod."""
        status = [{"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.5"],
                   "mac": "0a:58:0a:f4:01:05", "default": True, "dns": {}}]
        for n, a in enumerate(attachments, start=1):
            status.append({
                "name": f"{a['namespace']}/{a['name']}",
                "interface": a.get("interface") or f"net{n}",
                "ips": [],
                "mac": f"02:00:00:00:00:{n:02x}",
                "dns": {},
                "device-info": {"type": "pci", "version": "1.1.0",
                                "pci": {"pci-address": f"0000:3b:02.{n}"}},
            })
        d = self.out / "cnfwd"
        d.mkdir(parents=True, exist_ok=True)
        # JSON string escaping equals Go's strconv.Quote for this ASCII text.
        quoted = json.dumps(json.dumps(status, indent=4))
        (d / f"{ns}-{cm_name}.annotations").write_text(
            f'k8s.v1.cni.cncf.io/network-status={quoted}\n')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schemas", type=pathlib.Path, required=True)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("manifests", type=pathlib.Path, nargs="+")
    args = ap.parse_args()
    checker = Checker(args.schemas, args.out)
    for m in args.manifests:
        checker.load(m)
    checker.cross_check()
    for p in checker.problems:
        print(f"  {p}")
    c = checker.counts
    print(f"check_manifests: {c['custom']} custom resources checked against their schemas, "
          f"{c['core']} core objects written for kubernetes-validate, "
          f"{c['cnfwd_configs']} cnfwd configurations cross-checked with their pods: "
          f"{len(checker.problems)} problems")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
