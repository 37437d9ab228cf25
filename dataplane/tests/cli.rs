//! The `cnfwd` binary as a user meets it: a bad configuration exits non-zero
//! naming the field and value; a good one prints per-network counts and
//! writes the stats JSON.

use std::path::Path;
use std::process::Command;

fn cnfwd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnfwd"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cnfwd-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_config_names_field_and_value() {
    let dir = scratch("bad");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[[l2_networks]]\nname = \"a\"\nvlan = 5000\n[[ports]]\nname = \"p\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"nope\"]\n",
    )
    .unwrap();
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("l2_networks[0].vlan = 5000: VLAN id must be in 1..=4094"),
        "{err}"
    );
    assert!(
        err.contains("ports[0].networks[0] = \"nope\": no L2 or L3 network has this name"),
        "{err}"
    );

    std::fs::write(&cfg, "[[ports]]\nname = \"p\"\nmode = \"acess\"\n").unwrap();
    let out = cnfwd()
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:8:"), "{err}");

    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn run_prints_per_network_counts_and_writes_stats() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcap-tests/cases/05-vrf-overlap");
    let dir = scratch("run");
    for e in std::fs::read_dir(&case).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let stats = dir.join("stats.json");
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("config.toml"))
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    // Every network in the JSON appears in the printed table with its counts.
    for (name, c) in json["networks"].as_object().unwrap() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("network {name} not printed:\n{text}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], c["rx_packets"].to_string(), "{line}");
        assert_eq!(cols[2], c["tx_packets"].to_string(), "{line}");
    }
    let totals = &json["totals"];
    let n = |k: &str| totals[k].as_u64().unwrap();
    assert_eq!(
        n("rx_packets") + n("replicated") + n("generated"),
        n("tx_packets") + n("dropped")
    );
    assert!(text.contains("drop reason"), "{text}");
}

#[test]
fn damaged_capture_is_reported_after_its_packets() {
    let dir = scratch("damaged");
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/pcaps/fuzz-crash-eec28daf-bad-reclen.pcap");
    std::fs::write(
        dir.join("c.toml"),
        format!(
            "[[l2_networks]]\nname = \"l\"\nvlan = 1\n[[ports]]\nname = \"in\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:01\"\nmode = \"access\"\nnetworks = [\"l\"]\nrx_pcap = \"{}\"\n[[ports]]\nname = \"out\"\nbackend = \"pcap\"\nmac = \"02:00:00:00:00:02\"\nmode = \"access\"\nnetworks = [\"l\"]\ntx_pcap = \"out.pcap\"\n",
            capture.display()
        ),
    )
    .unwrap();
    let out = cnfwd()
        .args(["run", "--config"])
        .arg(dir.join("c.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("record 2: length 4294967295 exceeds the limit of 262144 bytes"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 packets received"));
}

/// A fixture of `config/tests/data/network-status/` (see `make.py` there).
fn network_status(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/data/network-status")
        .join(name)
}

/// `cnfwd` without the pod variables the test's own environment may have.
fn cnfwd_in_pod() -> Command {
    let mut c = cnfwd();
    c.env_remove("CNFWD_POD_ANNOTATIONS")
        .env_remove("POD_NAMESPACE");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PCIDEVICE_") {
            c.env_remove(k);
        }
    }
    c
}

const POD_PORTS: &str = r#"
[[l2_networks]]
name = "red"
vlan = 10
[[l2_networks]]
name = "green"
vlan = 20

[[ports]]
name = "red"
backend = "dpdk"
device = { network_attachment = "cnf/sriov-red" }
mode = "access"
networks = ["red"]

[[ports]]
name = "green"
backend = "dpdk"
device = { network_attachment = "cnf/sriov-green", resource = "intel.com/sriov_green", index = 1 }
mode = "access"
networks = ["green"]
"#;

#[test]
fn check_prints_what_attachments_resolved_to() {
    let dir = scratch("attach");
    let cfg = dir.join("pod.toml");
    std::fs::write(&cfg, POD_PORTS).unwrap();
    let annotations = network_status("pod.annotations");
    let with_flag = cnfwd_in_pod()
        .args(["check", "--config"])
        .arg(&cfg)
        .arg("--pod-annotations")
        .arg(&annotations)
        .env(
            "PCIDEVICE_INTEL_COM_SRIOV_GREEN",
            "0000:3b:02.3,0000:3b:02.4",
        )
        .output()
        .unwrap();
    let with_env = cnfwd_in_pod()
        .args(["check", "--config"])
        .arg(&cfg)
        .env("CNFWD_POD_ANNOTATIONS", &annotations)
        .env(
            "PCIDEVICE_INTEL_COM_SRIOV_GREEN",
            "0000:3b:02.3,0000:3b:02.4",
        )
        .output()
        .unwrap();
    for out in [with_flag, with_env] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().skip(1).collect();
        let a = annotations.display();
        assert_eq!(
            lines,
            [
                "  port \"red\": dpdk device 0000:af:06.0, mac 02:0a:00:00:01:01 (from network-status)".to_string(),
                format!("    from {{ network_attachment = \"cnf/sriov-red\" }} -> network-status entry \"cnf/sriov-red\", interface net1 (device-info pci 1.1.0) in {a}"),
                "  port \"green\": dpdk device 0000:3b:02.4, mac of the device".to_string(),
                format!("    from {{ network_attachment = \"cnf/sriov-green\", resource = \"intel.com/sriov_green\", index = 1 }} -> PCIDEVICE_INTEL_COM_SRIOV_GREEN[1] of 2 (network-status not used: network attachment \"cnf/sriov-green\" (interface net5) has no device-info in k8s.v1.cni.cncf.io/network-status ({a}): its CNI reported no device; name the attachment's device plugin resource too, as resource = \"...\")"),
            ],
            "{text}"
        );
    }
}

#[test]
fn attachment_errors_exit_1_naming_the_attachment() {
    let dir = scratch("attach-bad");
    let cfg = dir.join("pod.toml");
    std::fs::write(&cfg, POD_PORTS).unwrap();
    let red = "ports[0].device = { network_attachment = \"cnf/sriov-red\" }: ";
    let cases = [
        ("missing.annotations", "cannot read the pod annotations file"),
        (
            "no-network-status.annotations",
            "has no k8s.v1.cni.cncf.io/network-status annotation",
        ),
        (
            "bad-json.annotations",
            "is not valid network-status JSON: expected `,` or `}` at line 25 column 17",
        ),
        (
            "bad-quoting.annotations",
            "line 2 column 38 (k8s.v1.cni.cncf.io/network-status): bad Go quoting: unescaped '\"' inside the string",
        ),
    ];
    for (file, why) in cases {
        for cmd in ["check", "run"] {
            let out = cnfwd_in_pod()
                .args([cmd, "--config"])
                .arg(&cfg)
                .arg("--pod-annotations")
                .arg(network_status(file))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {file}: {err}");
            let line = err
                .lines()
                .find(|l| l.trim_start().starts_with(red))
                .unwrap_or_else(|| panic!("{cmd} {file}: no error for ports[0]:\n{err}"));
            assert!(line.contains(why), "{cmd} {file}: {line}");
            // The resource fallback of ports[1] is missing too, and says so.
            assert!(
                err.contains("fallback: resource \"intel.com/sriov_green\": no PCIDEVICE_INTEL_COM_SRIOV_GREEN in the environment"),
                "{cmd} {file}: {err}"
            );
        }
    }
    // A device that is not PCI, and an attachment with none at all.
    std::fs::write(
        &cfg,
        POD_PORTS
            .replace("cnf/sriov-red", "cnf/vhost-a")
            .replace(", resource = \"intel.com/sriov_green\", index = 1", ""),
    )
    .unwrap();
    let out = cnfwd_in_pod()
        .args(["check", "--config"])
        .arg(&cfg)
        .arg("--pod-annotations")
        .arg(network_status("pod.annotations"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ports[0].device = { network_attachment = \"cnf/vhost-a\" }: network attachment \"cnf/vhost-a\" (interface net4): device-info type is \"vhost-user\", not \"pci\"; a dpdk port needs a PCI device"), "{err}");
    assert!(err.contains("ports[1].device = { network_attachment = \"cnf/sriov-green\" }: network attachment \"cnf/sriov-green\" (interface net5) has no device-info"), "{err}");
}

#[test]
fn generated_config_passes_check_in_its_pod() {
    let dir = scratch("generate");
    for (file, backend) in [
        ("pod.annotations", "dpdk"),
        ("pod.annotations", "af_packet"),
        ("two-vfs.annotations", "dpdk"),
    ] {
        let out = cnfwd_in_pod()
            .args([
                "generate-config",
                "--backend",
                backend,
                "--from-network-status",
            ])
            .arg(network_status(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg = dir.join(format!("{file}-{backend}.toml"));
        std::fs::write(&cfg, &out.stdout).unwrap();
        let out = cnfwd_in_pod()
            .args(["check", "--config"])
            .arg(&cfg)
            .arg("--pod-annotations")
            .arg(network_status(file))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file} {backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("(from network-status)"), "{text}");
    }
    // Nothing SR-IOV to generate from.
    let out = cnfwd_in_pod()
        .args(["generate-config", "--from-network-status"])
        .arg(network_status("no-network-status.annotations"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no k8s.v1.cni.cncf.io/network-status annotation"));
}
