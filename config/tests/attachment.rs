//! Ports naming the pod's network attachments and device-plugin resources,
//! resolved against fixture annotation files (`data/network-status/`, made
//! by `make.py` there from the NPWG field lists) and environment maps: what
//! each port resolves to, and the exact error of every malformed input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cnfwd_config::attachment::{
    generate_config, network_status_of_file, parse_annotations, GenerateBackend, Pod,
    NETWORK_STATUS,
};
use cnfwd_config::{parse, resolve_in, MacAddr, PortBackend, Resolved};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/network-status")
        .join(name)
}

/// The pod of fixture `file` (its path as written in messages: the name).
fn pod(file: &str, env: &[(&str, &str)]) -> Pod {
    let text = std::fs::read_to_string(data(file)).map_err(|e| e.to_string());
    Pod::new(file, text, env_map(env))
}

/// A pod whose network-status annotation is `json` (quoted as JSON, which
/// for ASCII text without control characters other than newline is what
/// Go's %q writes).
fn pod_with_status(json: &str, env: &[(&str, &str)]) -> Pod {
    let line = format!("{NETWORK_STATUS}={}", serde_json::to_string(json).unwrap());
    Pod::new("inline", Ok(line), env_map(env))
}

fn env_map(env: &[(&str, &str)]) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const GREEN: &str = "PCIDEVICE_INTEL_COM_SRIOV_GREEN";
const GREEN_INFO: &str = "PCIDEVICE_INTEL_COM_SRIOV_GREEN_INFO";
const GREEN_INFO_JSON: &str = r#"{"0000:3b:02.3":{"generic":{"deviceID":"0000:3b:02.3"},"vfio":{"dev-mount":"/dev/vfio/73","mount":"/dev/vfio/vfio"}},"0000:3b:02.4":{"generic":{"deviceID":"0000:3b:02.4"},"vfio":{"dev-mount":"/dev/vfio/74","mount":"/dev/vfio/vfio"}}}"#;

/// A configuration with one access port per `(backend, name, device line)`,
/// each on an L2 network of its own.
fn config(ports: &[(&str, &str, &str)]) -> String {
    let mut s = String::new();
    for (i, (backend, name, device)) in ports.iter().enumerate() {
        s += &format!(
            "[[l2_networks]]\nname = \"n{i}\"\nvlan = {}\n\n[[ports]]\nname = \"{name}\"\nbackend = \"{backend}\"\n{device}\nmode = \"access\"\nnetworks = [\"n{i}\"]\n\n",
            i + 1
        );
    }
    s
}

fn resolve_text(text: &str, pod: &Pod) -> Result<Resolved, Vec<String>> {
    let cfg = parse(text, "<test>").expect("parses");
    resolve_in(&cfg, pod).map_err(|errs| errs.iter().map(|e| e.to_string()).collect())
}

fn device(r: &Resolved, port: usize) -> &str {
    match &r.ports[port].backend {
        PortBackend::Dpdk { device } => device,
        PortBackend::AfPacket { interface } => interface,
        PortBackend::Pcap { .. } => "",
    }
}

fn mac(s: &str) -> Option<MacAddr> {
    Some(s.parse().unwrap())
}

#[track_caller]
fn assert_errors(text: &str, pod: &Pod, expected: &[&str]) {
    let errs = resolve_text(text, pod).expect_err("must not resolve");
    assert_eq!(errs, expected);
}

#[test]
fn sriov_attachments_give_pci_address_and_mac() {
    let pod = pod(
        "pod.annotations",
        &[
            (GREEN, "0000:3b:02.3, 0000:3B:02.4"),
            (GREEN_INFO, GREEN_INFO_JSON),
        ],
    );
    let text = config(&[
        // device-info 1.1.0
        (
            "dpdk",
            "red",
            r#"device = { network_attachment = "cnf/sriov-red" }"#,
        ),
        // listed without namespace (the pod's own), device-info "v1.0.0",
        // an upper-case address
        (
            "dpdk",
            "blue",
            r#"device = { network_attachment = "cnf/sriov-blue" }"#,
        ),
        // no device-info: the resource gives the device
        (
            "dpdk",
            "green",
            r#"device = { network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green", index = 1 }"#,
        ),
        // by name alone; the file's MAC wins
        (
            "dpdk",
            "red-again",
            "device = \"0000:5e:00.1\"\nmac = \"02:00:00:00:99:01\"",
        ),
    ]);
    let r = resolve_text(&text, &pod).unwrap();
    let found: Vec<(&str, Option<MacAddr>)> =
        (0..4).map(|i| (device(&r, i), r.ports[i].mac)).collect();
    assert_eq!(
        found,
        [
            ("0000:af:06.0", mac("02:0a:00:00:01:01")),
            ("0000:af:0a.2", mac("02:0a:00:00:02:01")),
            ("0000:3b:02.4", None),
            ("0000:5e:00.1", mac("02:00:00:00:99:01")),
        ]
    );
    let origins: Vec<String> = r
        .ports
        .iter()
        .map(|p| p.pod.as_ref().map_or("-".into(), |o| o.to_string()))
        .collect();
    assert_eq!(
        origins,
        [
            r#"{ network_attachment = "cnf/sriov-red" } -> network-status entry "cnf/sriov-red", interface net1 (device-info pci 1.1.0) in pod.annotations"#,
            r#"{ network_attachment = "cnf/sriov-blue" } -> network-status entry "sriov-blue", interface net2 (device-info pci v1.0.0) in pod.annotations"#,
            r#"{ network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green", index = 1 } -> PCIDEVICE_INTEL_COM_SRIOV_GREEN[1] of 2 (generic, vfio /dev/vfio/74) (network-status not used: network attachment "cnf/sriov-green" (interface net5) has no device-info in k8s.v1.cni.cncf.io/network-status (pod.annotations): its CNI reported no device; name the attachment's device plugin resource too, as resource = "...")"#,
            "-",
        ]
    );
    assert!(r.ports[0].pod.as_ref().unwrap().mac_from_pod);
    assert!(!r.ports[2].pod.as_ref().unwrap().mac_from_pod);
}

#[test]
fn resource_alone_and_its_mac_from_the_annotation() {
    // The device plugin gave the VF that network-status lists for sriov-red:
    // its MAC comes from there.
    let pod = pod(
        "pod.annotations",
        &[("PCIDEVICE_INTEL_COM_SRIOV_RED", "0000:af:06.0")],
    );
    let text = config(&[(
        "dpdk",
        "red",
        r#"device = { resource = "intel.com/sriov_red" }"#,
    )]);
    let r = resolve_text(&text, &pod).unwrap();
    assert_eq!(device(&r, 0), "0000:af:06.0");
    assert_eq!(r.ports[0].mac, mac("02:0a:00:00:01:01"));
    assert_eq!(
        r.ports[0].pod.as_ref().unwrap().to_string(),
        r#"{ resource = "intel.com/sriov_red" } -> PCIDEVICE_INTEL_COM_SRIOV_RED[0] of 1"#
    );
    // No annotations file at all: the resource still resolves, without MAC.
    let no_file = Pod::new(
        "/nonexistent/annotations",
        Err("No such file or directory (os error 2)".into()),
        env_map(&[("PCIDEVICE_INTEL_COM_SRIOV_RED", "0000:af:06.0")]),
    );
    let r = resolve_text(&text, &no_file).unwrap();
    assert_eq!((device(&r, 0), r.ports[0].mac), ("0000:af:06.0", None));
}

#[test]
fn af_packet_ports_take_the_attachment_interface() {
    let pod = pod("pod.annotations", &[]);
    let text = config(&[
        (
            "af_packet",
            "mgmt",
            r#"interface = { network_attachment = "cnf/macvlan-mgmt" }"#,
        ),
        (
            "af_packet",
            "blue",
            r#"interface = { network_attachment = "sriov-blue" }"#,
        ),
        ("af_packet", "lo", r#"interface = "veth0""#),
    ]);
    let r = resolve_text(&text, &pod).unwrap();
    assert_eq!(
        (0..3)
            .map(|i| (device(&r, i), r.ports[i].mac))
            .collect::<Vec<_>>(),
        [
            ("net3", mac("02:0a:00:00:03:01")),
            ("net2", mac("02:0a:00:00:02:01")),
            ("veth0", None),
        ]
    );
}

#[test]
fn one_network_twice_and_device_info_1_0_0() {
    let pod = pod("two-vfs.annotations", &[]);
    let text = config(&[
        (
            "dpdk",
            "up1",
            r#"device = { network_attachment = "edge/uplink@net1" }"#,
        ),
        (
            "dpdk",
            "up2",
            r#"device = { network_attachment = "uplink@net2" }"#,
        ),
        (
            "dpdk",
            "access",
            r#"device = { network_attachment = "edge/access" }"#,
        ),
    ]);
    let r = resolve_text(&text, &pod).unwrap();
    assert_eq!(
        (0..3).map(|i| device(&r, i)).collect::<Vec<_>>(),
        ["0000:3b:02.1", "0000:3b:02.2", "0000:3b:0a.0"]
    );
    assert_errors(
        &config(&[(
            "dpdk",
            "up",
            r#"device = { network_attachment = "edge/uplink" }"#,
        )]),
        &pod,
        &[
            r#"ports[0].device = { network_attachment = "edge/uplink" }: network attachment "edge/uplink" matches "edge/uplink" (net1) and "edge/uplink" (net2) in k8s.v1.cni.cncf.io/network-status; write its namespace, or @interface (two-vfs.annotations)"#,
        ],
    );
}

#[test]
fn pod_namespace_decides_names_without_one() {
    // POD_NAMESPACE says the pod is in "other": the entry listed as
    // "sriov-blue" is other/sriov-blue, not cnf/sriov-blue.
    let pod = pod("pod.annotations", &[("POD_NAMESPACE", "other")]);
    let ok = config(&[(
        "dpdk",
        "b",
        r#"device = { network_attachment = "other/sriov-blue" }"#,
    )]);
    assert_eq!(device(&resolve_text(&ok, &pod).unwrap(), 0), "0000:af:0a.2");
    assert_errors(
        &config(&[(
            "dpdk",
            "b",
            r#"device = { network_attachment = "cnf/sriov-blue" }"#,
        )]),
        &pod,
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-blue" }: network attachment "cnf/sriov-blue" is not in the k8s.v1.cni.cncf.io/network-status annotation, which lists "cbr0" (eth0), "cnf/sriov-red" (net1), "sriov-blue" (net2), "cnf/macvlan-mgmt" (net3), "cnf/vhost-a" (net4), "cnf/sriov-green" (net5) (pod.annotations)"#,
        ],
    );
    // A name without namespace in the file is the pod's namespace too.
    assert_errors(
        &config(&[(
            "dpdk",
            "r",
            r#"device = { network_attachment = "sriov-red" }"#,
        )]),
        &pod,
        &[
            r#"ports[0].device = { network_attachment = "sriov-red" }: network attachment "sriov-red" is not in the k8s.v1.cni.cncf.io/network-status annotation, which lists "cbr0" (eth0), "cnf/sriov-red" (net1), "sriov-blue" (net2), "cnf/macvlan-mgmt" (net3), "cnf/vhost-a" (net4), "cnf/sriov-green" (net5) (pod.annotations)"#,
        ],
    );
}

#[test]
fn kubelet_quoting_undone() {
    let text = std::fs::read_to_string(data("pod.annotations")).unwrap();
    let a = parse_annotations(&text).unwrap();
    assert_eq!(
        a["example.com/note"],
        "caf\u{e9}\tno\u{a0}break \x01 \u{2713} \u{1F600}"
    );
    assert_eq!(a["kubernetes.io/config.source"], "api");
    // The JSON as Multus wrote it: indented, quotes and newlines unescaped.
    assert!(a[NETWORK_STATUS].starts_with("[\n    {\n        \"name\": \"cbr0\","));
    let from_json = std::fs::read_to_string(data("pod-network-status.json")).unwrap();
    assert_eq!(a[NETWORK_STATUS], from_json.trim_end());
}

const RED: &str = r#"device = { network_attachment = "cnf/sriov-red" }"#;

#[test]
fn annotation_file_problems() {
    let text = config(&[("dpdk", "red", RED)]);
    let no_file = Pod::new(
        "/nonexistent/annotations",
        Err("No such file or directory (os error 2)".into()),
        BTreeMap::new(),
    );
    assert_errors(
        &text,
        &no_file,
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: cannot read the pod annotations file /nonexistent/annotations: No such file or directory (os error 2); mount the downward API (metadata.annotations) there, or name the file with --pod-annotations or CNFWD_POD_ANNOTATIONS"#,
        ],
    );
    assert_errors(
        &text,
        &pod("no-network-status.annotations", &[]),
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: no-network-status.annotations has no k8s.v1.cni.cncf.io/network-status annotation (Multus writes it when it attaches the pod's networks)"#,
        ],
    );
    assert_errors(
        &text,
        &pod("bad-json.annotations", &[]),
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: k8s.v1.cni.cncf.io/network-status in bad-json.annotations is not valid network-status JSON: expected `,` or `}` at line 25 column 17"#,
        ],
    );
    assert_errors(
        &text,
        &pod("bad-quoting.annotations", &[]),
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: bad-quoting.annotations: line 2 column 38 (k8s.v1.cni.cncf.io/network-status): bad Go quoting: unescaped '"' inside the string"#,
        ],
    );
    // A line that is not key="value" at all.
    let pod_text = Pod::new("p", Ok("a=\"1\"\njust text\n".into()), BTreeMap::new());
    assert_errors(
        &text,
        &pod_text,
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: p: line 2: expected key="value""#,
        ],
    );
}

#[test]
fn attachment_problems() {
    let pod = pod("pod.annotations", &[]);
    let cases = [
        (
            r#"device = { network_attachment = "cnf/sriov-purple" }"#,
            r#"ports[0].device = { network_attachment = "cnf/sriov-purple" }: network attachment "cnf/sriov-purple" is not in the k8s.v1.cni.cncf.io/network-status annotation, which lists "cbr0" (eth0), "cnf/sriov-red" (net1), "sriov-blue" (net2), "cnf/macvlan-mgmt" (net3), "cnf/vhost-a" (net4), "cnf/sriov-green" (net5) (pod.annotations)"#,
        ),
        (
            r#"device = { network_attachment = "cnf/sriov-green" }"#,
            r#"ports[0].device = { network_attachment = "cnf/sriov-green" }: network attachment "cnf/sriov-green" (interface net5) has no device-info in k8s.v1.cni.cncf.io/network-status (pod.annotations): its CNI reported no device; name the attachment's device plugin resource too, as resource = "...""#,
        ),
        (
            r#"device = { network_attachment = "cnf/vhost-a" }"#,
            r#"ports[0].device = { network_attachment = "cnf/vhost-a" }: network attachment "cnf/vhost-a" (interface net4): device-info type is "vhost-user", not "pci"; a dpdk port needs a PCI device"#,
        ),
        (
            r#"device = { network_attachment = "cnf/a/b" }"#,
            r#"ports[0].device = { network_attachment = "cnf/a/b" }: a network attachment is written namespace/name, name, or either with @interface"#,
        ),
        (
            r#"device = {}"#,
            r#"ports[0].device = {}: names neither network_attachment nor resource"#,
        ),
        (
            r#"device = { network_attachment = "cnf/sriov-red", index = 1 }"#,
            r#"ports[0].device = { network_attachment = "cnf/sriov-red", index = 1 }: index picks one of a resource's devices; it needs resource"#,
        ),
    ];
    for (device, expected) in cases {
        assert_errors(&config(&[("dpdk", "p", device)]), &pod, &[expected]);
    }
    // af_packet: an attachment without interface; a resource.
    let no_iface = pod_with_status(
        r#"[{"name": "ns/vf", "device-info": {"type": "pci", "version": "1.0.0", "pci": {"pci-address": "0000:01:00.2"}}}]"#,
        &[],
    );
    assert_errors(
        &config(&[(
            "af_packet",
            "p",
            r#"interface = { network_attachment = "ns/vf" }"#,
        )]),
        &no_iface,
        &[
            r#"ports[0].interface = { network_attachment = "ns/vf" }: network attachment "ns/vf" has no interface in k8s.v1.cni.cncf.io/network-status (inline)"#,
        ],
    );
    assert_errors(
        &config(&[(
            "af_packet",
            "p",
            r#"interface = { resource = "intel.com/sriov_red" }"#,
        )]),
        &pod,
        &[
            r#"ports[0].interface = { resource = "intel.com/sriov_red" }: an af_packet interface comes from a network_attachment; a device plugin resource gives PCI addresses (that is device = { resource = ... } on dpdk ports)"#,
        ],
    );
    // Not for pcap ports; not the other backend's field.
    assert_errors(
        &config(&[(
            "pcap",
            "p",
            "mac = \"02:00:00:00:00:01\"\ndevice = { network_attachment = \"cnf/sriov-red\" }",
        )]),
        &pod,
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-red" }: only for backend = "dpdk""#,
        ],
    );
    // Two ports on one VF.
    assert_errors(
        &config(&[
            ("dpdk", "a", RED),
            ("dpdk", "b", r#"device = "0000:af:06.0""#),
        ]),
        &pod,
        &[r#"ports[1].device = "0000:af:06.0": resolves to 0000:af:06.0, which port "a" uses too"#],
    );
}

#[test]
fn device_info_problems() {
    let entry = |info: &str| {
        format!(
            r#"[{{"name": "ns/vf", "interface": "net1", "mac": "02:00:00:00:00:07", "device-info": {info}}}]"#
        )
    };
    let text = config(&[("dpdk", "p", r#"device = { network_attachment = "ns/vf" }"#)]);
    let cases = [
        (
            r#"{"type": "pci", "version": "2.0.0", "pci": {"pci-address": "0000:01:00.2"}}"#,
            r#"network attachment "ns/vf" (interface net1): device-info version "2.0.0" is not one cnfwd reads (1.0.0, 1.1.0)"#,
        ),
        (
            r#"{"type": "pci", "version": "1.1.0", "pci": {"pf-pci-address": "0000:01:00.0"}}"#,
            r#"network attachment "ns/vf" (interface net1): device-info has no pci.pci-address"#,
        ),
        (
            r#"{"type": "pci", "version": "1.1.0"}"#,
            r#"network attachment "ns/vf" (interface net1): device-info has no pci.pci-address"#,
        ),
        (
            r#"{"type": "pci", "version": "1.1.0", "pci": {"pci-address": "net_pcap0"}}"#,
            r#"network attachment "ns/vf" (interface net1): device-info pci-address "net_pcap0" is not a PCI address"#,
        ),
        (
            r#"{"type": "pci", "pci": {"pci-address": "0000:01:00.2"}}"#,
            "k8s.v1.cni.cncf.io/network-status in inline is not valid network-status JSON: missing field `version` at line 1 column 138",
        ),
    ];
    for (info, why) in cases {
        let pod = pod_with_status(&entry(info), &[]);
        let expected = format!(r#"ports[0].device = {{ network_attachment = "ns/vf" }}: {why}"#);
        assert_errors(&text, &pod, &[expected.as_str()]);
    }
    // A MAC that is not one, and one that is not unicast.
    let bad_mac = pod_with_status(
        r#"[{"name": "ns/vf", "mac": "02:00:00:00:07", "device-info": {"type": "pci", "version": "1.0.0", "pci": {"pci-address": "0000:01:00.2"}}}]"#,
        &[],
    );
    assert_errors(
        &text,
        &bad_mac,
        &[
            r#"ports[0].device = { network_attachment = "ns/vf" }: network attachment "ns/vf": mac "02:00:00:00:07" in k8s.v1.cni.cncf.io/network-status is not a MAC address"#,
        ],
    );
    let group_mac = pod_with_status(
        r#"[{"name": "ns/vf", "mac": "03:00:00:00:00:07", "device-info": {"type": "pci", "version": "1.0.0", "pci": {"pci-address": "0000:01:00.2"}}}]"#,
        &[],
    );
    assert_errors(&text, &group_mac, &["ports[0].mac = (absent): the attachment's MAC 03:00:00:00:00:07 in network-status is not unicast; set mac"]);
    // An entry without a name is malformed network-status.
    let nameless = pod_with_status(r#"[{"interface": "net1"}]"#, &[]);
    assert_errors(
        &text,
        &nameless,
        &[
            r#"ports[0].device = { network_attachment = "ns/vf" }: k8s.v1.cni.cncf.io/network-status in inline is not valid network-status JSON: missing field `name` at line 1 column 22"#,
        ],
    );
}

#[test]
fn resource_problems() {
    let pod_env = |env: &[(&str, &str)]| pod("no-network-status.annotations", env);
    let one = config(&[(
        "dpdk",
        "g",
        r#"device = { resource = "intel.com/sriov_green" }"#,
    )]);
    let second = config(&[(
        "dpdk",
        "g",
        r#"device = { resource = "intel.com/sriov_green", index = 2 }"#,
    )]);
    let prefix = r#"ports[0].device = { resource = "intel.com/sriov_green" }: "#;
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Env, String); 6] = [
        (
            &one,
            &[],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": no PCIDEVICE_INTEL_COM_SRIOV_GREEN in the environment (the SR-IOV device plugin sets it in containers that request the resource)"#
            ),
        ),
        (
            &one,
            &[(GREEN, "")],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": PCIDEVICE_INTEL_COM_SRIOV_GREEN is empty"#
            ),
        ),
        (
            &one,
            &[(GREEN, "0000:3b:02.3,0000:3b:02.4")],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": PCIDEVICE_INTEL_COM_SRIOV_GREEN lists 2 devices (0000:3b:02.3, 0000:3b:02.4); say which with index = 0..=1"#
            ),
        ),
        (
            &one,
            &[(GREEN, "0000:3b:02.3,vf7")],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": PCIDEVICE_INTEL_COM_SRIOV_GREEN holds "vf7", which is not a PCI address"#
            ),
        ),
        (
            &one,
            &[
                (GREEN, "0000:3b:02.3"),
                (GREEN_INFO, r#"{"0000:3b:02.3": {"generic": }"#),
            ],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": PCIDEVICE_INTEL_COM_SRIOV_GREEN_INFO is not valid JSON: expected value at line 1 column 30"#
            ),
        ),
        (
            &one,
            &[(GREEN, "0000:3b:02.5"), (GREEN_INFO, GREEN_INFO_JSON)],
            format!(
                r#"{prefix}resource "intel.com/sriov_green": PCIDEVICE_INTEL_COM_SRIOV_GREEN_INFO has no entry for 0000:3b:02.5, which PCIDEVICE_INTEL_COM_SRIOV_GREEN lists"#
            ),
        ),
    ];
    for (text, env, expected) in cases {
        assert_errors(text, &pod_env(env), &[expected.as_str()]);
    }
    assert_errors(
        &second,
        &pod_env(&[(GREEN, "0000:3b:02.3,0000:3b:02.4")]),
        &[
            r#"ports[0].device = { resource = "intel.com/sriov_green", index = 2 }: resource "intel.com/sriov_green": index 2, but PCIDEVICE_INTEL_COM_SRIOV_GREEN lists 2 devices (0000:3b:02.3, 0000:3b:02.4)"#,
        ],
    );
    assert_errors(
        &config(&[("dpdk", "g", r#"device = { resource = "sriov green" }"#)]),
        &pod_env(&[]),
        &[
            r#"ports[0].device = { resource = "sriov green" }: resource "sriov green" is not a device plugin resource name (vendor.domain/name)"#,
        ],
    );
    // Both sources failing: the annotation's reason, then the fallback's.
    assert_errors(
        &config(&[(
            "dpdk",
            "g",
            r#"device = { network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green" }"#,
        )]),
        &pod("pod.annotations", &[]),
        &[
            r#"ports[0].device = { network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green" }: network attachment "cnf/sriov-green" (interface net5) has no device-info in k8s.v1.cni.cncf.io/network-status (pod.annotations): its CNI reported no device; name the attachment's device plugin resource too, as resource = "..."; fallback: resource "intel.com/sriov_green": no PCIDEVICE_INTEL_COM_SRIOV_GREEN in the environment (the SR-IOV device plugin sets it in containers that request the resource)"#,
        ],
    );
}

#[test]
fn misspelt_reference_is_a_syntax_error() {
    let text = config(&[(
        "dpdk",
        "p",
        r#"device = { network_atachment = "cnf/sriov-red" }"#,
    )]);
    let e = parse(&text, "c.toml").unwrap_err().to_string();
    assert!(
        e.starts_with("c.toml:8:12: unknown field `network_atachment`, expected one of `network_attachment`, `resource`, `index`"),
        "{e}"
    );
    let text = config(&[("dpdk", "p", "device = 7")]);
    let e = parse(&text, "c.toml").unwrap_err().to_string();
    assert!(e.contains("expected a device name, or a table"), "{e}");
}

#[test]
fn written_back_as_read() {
    // /config/save writes the reference, not what it resolved to.
    let text = config(&[(
        "dpdk",
        "g",
        r#"device = { network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green", index = 1 }"#,
    )]);
    let cfg = parse(&text, "<test>").unwrap();
    let again = parse(&toml::to_string(&cfg).unwrap(), "<again>").unwrap();
    assert_eq!(cfg, again);
}

#[test]
fn generated_config_is_valid_in_its_pod() {
    for (file, backend, ports) in [
        ("pod.annotations", GenerateBackend::Dpdk, 2),
        ("pod.annotations", GenerateBackend::AfPacket, 2),
        ("pod-network-status.json", GenerateBackend::Dpdk, 2),
        ("two-vfs.annotations", GenerateBackend::Dpdk, 3),
    ] {
        let text = std::fs::read_to_string(data(file)).unwrap();
        let entries = network_status_of_file(&text).unwrap();
        let toml = generate_config(&entries, file, backend).unwrap();
        // The JSON file is the same pod as pod.annotations.
        let pod_file = if file.ends_with(".json") {
            "pod.annotations"
        } else {
            file
        };
        let r = resolve_text(&toml, &pod(pod_file, &[]))
            .unwrap_or_else(|e| panic!("{file}: {e:#?}\n{toml}"));
        assert_eq!(r.ports.len(), ports, "{toml}");
        assert!(r.ports.iter().all(|p| p.pod.is_some() && p.mac.is_some()));
    }
    // The two VFs of edge/uplink share a prefix: the second routes in a VRF
    // of its own, and says so.
    let text = std::fs::read_to_string(data("two-vfs.annotations")).unwrap();
    let toml = generate_config(
        &network_status_of_file(&text).unwrap(),
        "two-vfs.annotations",
        GenerateBackend::Dpdk,
    )
    .unwrap();
    assert_eq!(
        toml,
        std::fs::read_to_string(data("two-vfs.generated.toml")).unwrap()
    );
}

#[test]
fn generate_config_needs_an_sriov_attachment() {
    let entries = network_status_of_file(
        r#"[{"name": "cbr0", "interface": "eth0", "default": true}, {"name": "ns/mv", "interface": "net1"}]"#,
    )
    .unwrap();
    assert_eq!(
        generate_config(&entries, "f", GenerateBackend::Dpdk).unwrap_err(),
        r#"f: no SR-IOV attachment (device-info type "pci") in k8s.v1.cni.cncf.io/network-status; it lists "cbr0" (eth0), "ns/mv" (net1)"#
    );
    assert_eq!(
        network_status_of_file("a=\"1\"").unwrap_err(),
        "no k8s.v1.cni.cncf.io/network-status annotation"
    );
}
