//! Devices from Kubernetes: a port names its network attachment (or the
//! SR-IOV device plugin resource) instead of a hand-copied PCI address, and
//! cnfwd finds what the pod was given when it starts.
//!
//! - `device = { network_attachment = "ns/sriov-red" }` (dpdk): the entry of
//!   that network in the Multus `k8s.v1.cni.cncf.io/network-status`
//!   annotation, read from the downward-API annotations file, gives the PCI
//!   address (its NPWG `device-info`, type `pci`) and the MAC.
//! - `interface = { network_attachment = "ns/macvlan-a" }` (af_packet): the
//!   same entry gives the interface name and the MAC.
//! - `device = { resource = "intel.com/sriov_red", index = 1 }` (dpdk): the
//!   device plugin's `PCIDEVICE_INTEL_COM_SRIOV_RED` environment variable
//!   (comma-separated PCI addresses; `..._INFO` holds JSON about each).
//!   Given together with `network_attachment`, the resource is the fallback
//!   when the annotation does not give the device.
//!
//! Everything here is a pure function of the annotations file's text and an
//! environment map ([`Pod`]); [`Pod::from_system`] is the one place that
//! reads them. A running cnfwd resolves against one [`Pod`], read once
//! ([`set_process_pod`], [`process_pod`]), so the devices found at start
//! are the ones every later resolution (`/config/apply`) sees.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::mac::MacAddr;
use crate::model::PodDevice;

/// The Multus annotation listing the pod's network attachments.
pub const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";
/// Where the downward-API annotations file is read by default.
pub const DEFAULT_ANNOTATIONS: &str = "/etc/podnetinfo/annotations";
/// Environment variable naming the annotations file (`--pod-annotations` wins).
pub const ANNOTATIONS_ENV: &str = "CNFWD_POD_ANNOTATIONS";
/// Environment variable with the pod's namespace (downward API
/// `metadata.namespace`); when set, names without a namespace mean this one.
pub const NAMESPACE_ENV: &str = "POD_NAMESPACE";

// --- Go quoting -----------------------------------------------------------

/// Why a Go-quoted string is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (byte {at} of the quoted value)")]
pub struct UnquoteError {
    /// 0-based byte offset in the quoted text (the opening quote is 0).
    pub at: usize,
    /// What is wrong there.
    pub what: String,
}

/// Undoes Go's `strconv.Quote` (what kubelet's `%q` writes): a double-quoted
/// string with the escapes `\a \b \f \n \r \t \v \\ \"`, `\xHH` and `\NNN`
/// (one byte each), `\uHHHH` and `\UHHHHHHHH` (a Unicode scalar value).
/// Like `strconv.Unquote` it rejects an unescaped `"` or newline inside,
/// `\'`, unknown escapes, surrogates and octal values above `\377`; bytes
/// given by `\x` or octal escapes must make valid UTF-8 in the end.
pub fn go_unquote(quoted: &str) -> Result<String, UnquoteError> {
    let err = |at: usize, what: &str| UnquoteError {
        at,
        what: what.to_owned(),
    };
    let b = quoted.as_bytes();
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return Err(err(0, "not a double-quoted Go string"));
    }
    let inner = &quoted[1..quoted.len() - 1];
    let ib = inner.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(ib.len());
    // The offset in `quoted` each output byte came from, for the UTF-8 check.
    let mut from: Vec<usize> = Vec::with_capacity(ib.len());
    let mut i = 0;
    let mut last_at = 1;
    while i < ib.len() {
        let at = i + 1;
        from.resize(out.len(), last_at);
        last_at = at;
        match ib[i] {
            b'"' => return Err(err(at, "unescaped '\"' inside the string")),
            b'\n' => return Err(err(at, "newline inside the string")),
            b'\\' => {
                let Some(&c) = ib.get(i + 1) else {
                    return Err(err(at, "'\\' escapes the closing quote"));
                };
                i += 2;
                let simple = match c {
                    b'a' => Some(0x07),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b'v' => Some(0x0b),
                    b'\\' => Some(b'\\'),
                    b'"' => Some(b'"'),
                    _ => None,
                };
                if let Some(v) = simple {
                    out.push(v);
                    continue;
                }
                match c {
                    b'x' | b'u' | b'U' => {
                        let n = match c {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let digits = ib
                            .get(i..i + n)
                            .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
                        let Some(digits) = digits else {
                            return Err(err(at, &format!("\\{} needs {n} hex digits", c as char)));
                        };
                        // ASCII hex digits: valid UTF-8, at most 8 of them fit u32.
                        let v = u32::from_str_radix(std::str::from_utf8(digits).unwrap_or("0"), 16)
                            .unwrap_or(0);
                        i += n;
                        if c == b'x' {
                            out.push(v as u8);
                        } else {
                            let Some(ch) = char::from_u32(v) else {
                                return Err(err(
                                    at,
                                    &format!(
                                        "\\{}{v:0n$X} is not a Unicode scalar value",
                                        c as char
                                    ),
                                ));
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    b'0'..=b'7' => {
                        let rest = ib
                            .get(i..i + 2)
                            .filter(|d| d.iter().all(|d| (b'0'..=b'7').contains(d)));
                        let Some(rest) = rest else {
                            return Err(err(at, "an octal escape needs three digits (\\NNN)"));
                        };
                        let v = u32::from(c - b'0') * 64
                            + u32::from(rest[0] - b'0') * 8
                            + u32::from(rest[1] - b'0');
                        if v > 255 {
                            return Err(err(at, "octal escape above \\377"));
                        }
                        i += 2;
                        out.push(v as u8);
                    }
                    b'\'' => return Err(err(at, "\\' is not an escape in a double-quoted string")),
                    _ => {
                        let ch = inner[i - 1..].chars().next().unwrap_or('?');
                        return Err(err(at, &format!("unknown escape \\{ch}")));
                    }
                }
            }
            _ => {
                // `inner` is a &str and `i` is always on a character boundary.
                let ch = inner[i..].chars().next().unwrap_or('?');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += ch.len_utf8();
            }
        }
    }
    from.resize(out.len(), last_at);
    String::from_utf8(out).map_err(|e| {
        err(
            from[e.utf8_error().valid_up_to()],
            "\\x or octal escapes make bytes that are not UTF-8",
        )
    })
}

// --- the downward-API annotations file ------------------------------------

/// Why an annotations file is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationsError {
    /// A line is not `key="value"`.
    #[error("line {line}: expected key=\"value\"")]
    NoEquals {
        /// 1-based line.
        line: usize,
    },
    /// A value is not a valid Go-quoted string.
    #[error("line {line} column {column} ({key}): bad Go quoting: {what}")]
    Quoting {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes) of the problem.
        column: usize,
        /// The annotation.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A key appears twice.
    #[error("line {line} ({key}): the annotation appears twice")]
    Duplicate {
        /// 1-based line.
        line: usize,
        /// The annotation.
        key: String,
    },
}

/// Parses a downward-API `metadata.annotations` file: one `key="value"` per
/// line, values Go-quoted (kubelet writes `fmt.Sprintf("%v=%q\n", k, v)`).
/// Empty lines are skipped; every other line must be well formed.
pub fn parse_annotations(text: &str) -> Result<BTreeMap<String, String>, AnnotationsError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(AnnotationsError::NoEquals { line: line_no });
        };
        let value = go_unquote(value).map_err(|e| AnnotationsError::Quoting {
            line: line_no,
            column: key.len() + 1 + e.at + 1,
            key: key.to_owned(),
            what: e.what,
        })?;
        if out.insert(key.to_owned(), value).is_some() {
            return Err(AnnotationsError::Duplicate {
                line: line_no,
                key: key.to_owned(),
            });
        }
    }
    Ok(out)
}

// --- network-status -------------------------------------------------------

/// One entry of the `network-status` annotation (NPWG multi-net spec).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkStatus {
    /// `namespace/name` of the attachment; the cluster default network (and
    /// attachments written by older Multus) carry a name without namespace.
    pub name: String,
    /// The interface in the pod (`net1`); absent for some userspace devices.
    #[serde(default)]
    pub interface: Option<String>,
    /// Addresses, with or without prefix length.
    #[serde(default)]
    pub ips: Vec<String>,
    /// The interface's MAC.
    #[serde(default)]
    pub mac: Option<String>,
    /// True for the pod's default network.
    #[serde(default)]
    pub default: bool,
    /// The device behind the interface (NPWG device-info spec).
    #[serde(default, rename = "device-info")]
    pub device_info: Option<DeviceInfo>,
}

/// NPWG `device-info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceInfo {
    /// `pci`, `vdpa`, `vhost-user`, `memif`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Spec version: `1.0.0` or `1.1.0` (a leading `v` is accepted).
    pub version: String,
    /// Present for type `pci`.
    #[serde(default)]
    pub pci: Option<PciInfo>,
}

/// NPWG `device-info.pci`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PciInfo {
    /// The device (the VF).
    #[serde(default, rename = "pci-address")]
    pub pci_address: Option<String>,
    /// Its physical function (1.1.0).
    #[serde(default, rename = "pf-pci-address")]
    pub pf_pci_address: Option<String>,
    /// vhost-net device, if any.
    #[serde(default, rename = "vhost-net")]
    pub vhost_net: Option<String>,
    /// RDMA device, if any.
    #[serde(default, rename = "rdma-device")]
    pub rdma_device: Option<String>,
    /// Representor netdev (switchdev), if any.
    #[serde(default, rename = "representor-device")]
    pub representor_device: Option<String>,
}

/// Parses the `network-status` annotation's JSON (an array of entries).
pub fn parse_network_status(json: &str) -> Result<Vec<NetworkStatus>, serde_json::Error> {
    serde_json::from_str(json)
}

/// `dddd:bb:dd.f` (or `bb:dd.f`), any case -> lower case with a domain of
/// at least four digits, as DPDK names PCI devices; `None` if it is not one.
pub fn normalize_pci(s: &str) -> Option<String> {
    let hex = |t: &str, max: usize| {
        (!t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(t, 16).ok())
            .flatten()
    };
    let parts: Vec<&str> = s.trim().split(':').collect();
    let (domain, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (hex(d, 8)?, *b, *df),
        [b, df] => (0, *b, *df),
        _ => return None,
    };
    let (dev, func) = devfn.split_once('.')?;
    let (bus, dev, func) = (hex(bus, 2)?, hex(dev, 2)?, hex(func, 1)?);
    (dev <= 0x1f && func <= 7).then(|| format!("{domain:04x}:{bus:02x}:{dev:02x}.{func:x}"))
}

/// A network attachment name as a port writes it: `[namespace/]name[@interface]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted<'a> {
    namespace: Option<&'a str>,
    name: &'a str,
    interface: Option<&'a str>,
}

fn parse_wanted(s: &str) -> Result<Wanted<'_>, String> {
    let (rest, interface) = match s.split_once('@') {
        Some((r, i)) => (r, Some(i)),
        None => (s, None),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, rest),
    };
    let ok = |t: &str| !t.is_empty() && !t.contains(['/', '@', ' ']);
    if !ok(name) || !namespace.is_none_or(ok) || !interface.is_none_or(ok) {
        return Err(
            "a network attachment is written namespace/name, name, or either with @interface"
                .into(),
        );
    }
    Ok(Wanted {
        namespace,
        name,
        interface,
    })
}

fn split_ns(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, name),
    }
}

/// Finds the attachment `want` (`[namespace/]name[@interface]`) in the
/// entries. Names with a namespace match the same name; a name without a
/// namespace (on either side) is the pod's own namespace, `pod_namespace`
/// when known (else any). An exact match wins over these; `@interface`
/// picks among several attachments of one network. Errors say what is
/// listed.
pub fn find_network<'a>(
    entries: &'a [NetworkStatus],
    want: &str,
    pod_namespace: Option<&str>,
) -> Result<&'a NetworkStatus, String> {
    let w = parse_wanted(want)?;
    let ns_ok = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a == b,
        (Some(x), None) | (None, Some(x)) => pod_namespace.is_none_or(|p| p == x),
        (None, None) => true,
    };
    let mut found: Vec<&NetworkStatus> = entries
        .iter()
        .filter(|e| {
            let (ns, name) = split_ns(&e.name);
            name == w.name
                && ns_ok(w.namespace, ns)
                && w.interface
                    .is_none_or(|i| e.interface.as_deref() == Some(i))
        })
        .collect();
    let full = match w.namespace {
        Some(ns) => format!("{ns}/{}", w.name),
        None => w.name.to_owned(),
    };
    if found.len() > 1 && found.iter().any(|e| e.name == full) {
        found.retain(|e| e.name == full);
    }
    let describe = |e: &&NetworkStatus| match &e.interface {
        Some(i) => format!("{:?} ({i})", e.name),
        None => format!("{:?}", e.name),
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            let listed: Vec<String> = entries.iter().map(|e| describe(&e)).collect();
            let listed = if listed.is_empty() {
                "lists no networks".to_owned()
            } else {
                format!("lists {}", listed.join(", "))
            };
            Err(format!(
                "network attachment {want:?} is not in the {NETWORK_STATUS} annotation, which {listed}"
            ))
        }
        many => {
            let listed: Vec<String> = many.iter().map(describe).collect();
            Err(format!(
                "network attachment {want:?} matches {} in {NETWORK_STATUS}; write its namespace, or @interface",
                listed.join(" and ")
            ))
        }
    }
}

/// Where a port's device came from, for `cnfwd check` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodOrigin {
    /// The reference as written (`{ network_attachment = "ns/red" }`).
    pub spec: PodDevice,
    /// What gave the device, e.g. `network-status entry "ns/red" (interface
    /// net1, device-info pci 1.1.0) in /etc/podnetinfo/annotations`.
    pub source: String,
    /// Why the annotation was not used, when the resource fallback was.
    pub fallback: Option<String>,
    /// Whether the port's MAC came from the annotation (set by resolution).
    pub mac_from_pod: bool,
}

impl fmt::Display for PodOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.spec, self.source)?;
        if let Some(why) = &self.fallback {
            write!(f, " (network-status not used: {why})")?;
        }
        Ok(())
    }
}

/// What a reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The PCI address (dpdk) or interface name (af_packet).
    pub name: String,
    /// The MAC the annotation gives, if it gives one.
    pub mac: Option<MacAddr>,
    /// Where it came from.
    pub origin: PodOrigin,
}

// --- the pod --------------------------------------------------------------

/// What cnfwd knows of its pod: the downward-API annotations file (its text,
/// or why it could not be read) and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// The annotations file's path, for messages.
    pub annotations_path: String,
    /// Its text, or why it could not be read.
    pub annotations: Result<String, String>,
    /// Environment variables (only `PCIDEVICE_*` and `POD_NAMESPACE` matter).
    pub env: BTreeMap<String, String>,
}

impl Pod {
    /// A pod from the annotations file's text (or the read error) and an
    /// environment map.
    pub fn new(
        annotations_path: impl Into<String>,
        annotations: Result<String, String>,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self {
            annotations_path: annotations_path.into(),
            annotations,
            env,
        }
    }

    /// Reads the annotations file (`path`, else `$CNFWD_POD_ANNOTATIONS`,
    /// else [`DEFAULT_ANNOTATIONS`]) and the process environment. A missing
    /// file is not an error here: only a port that needs it reports it.
    pub fn from_system(path: Option<&Path>) -> Self {
        let path = path
            .map(|p| p.display().to_string())
            .or_else(|| {
                std::env::var(ANNOTATIONS_ENV)
                    .ok()
                    .filter(|p| !p.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_ANNOTATIONS.to_owned());
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string());
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("PCIDEVICE_") || k == NAMESPACE_ENV)
            .collect();
        Self::new(path, text, env)
    }

    fn pod_namespace(&self) -> Option<&str> {
        self.env
            .get(NAMESPACE_ENV)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The `network-status` entries, or why there are none.
    pub fn network_status(&self) -> Result<Vec<NetworkStatus>, String> {
        let path = &self.annotations_path;
        let text = self.annotations.as_ref().map_err(|e| {
            format!("cannot read the pod annotations file {path}: {e}; mount the downward API (metadata.annotations) there, or name the file with --pod-annotations or {ANNOTATIONS_ENV}")
        })?;
        let annotations = parse_annotations(text).map_err(|e| format!("{path}: {e}"))?;
        let json = annotations.get(NETWORK_STATUS).ok_or_else(|| {
            format!("{path} has no {NETWORK_STATUS} annotation (Multus writes it when it attaches the pod's networks)")
        })?;
        parse_network_status(json).map_err(|e| {
            format!("{NETWORK_STATUS} in {path} is not valid network-status JSON: {e}")
        })
    }

    /// The entry for `want`, with what the messages call it.
    fn entry(&self, want: &str) -> Result<NetworkStatus, String> {
        let entries = self.network_status()?;
        find_network(&entries, want, self.pod_namespace())
            .cloned()
            .map_err(|e| format!("{e} ({})", self.annotations_path))
    }

    /// The PCI address a dpdk port's reference names: from the attachment's
    /// `device-info`, else (or without an attachment) from the resource's
    /// `PCIDEVICE_*` variable.
    pub fn pci_device(&self, r: &PodDevice) -> Result<Found, String> {
        check_reference(r, false)?;
        let from_status = r
            .network_attachment
            .as_deref()
            .map(|a| self.pci_from_status(r, a));
        match (from_status, r.resource.as_deref()) {
            (Some(Ok(found)), _) => Ok(found),
            (Some(Err(why)), None) => Err(why),
            (None, Some(res)) => self.pci_from_resource(r, res, None),
            (Some(Err(why)), Some(res)) => self
                .pci_from_resource(r, res, Some(why.clone()))
                .map_err(|e| format!("{why}; fallback: {e}")),
            (None, None) => Err("names neither network_attachment nor resource".into()),
        }
    }

    /// The interface an af_packet port's reference names.
    pub fn interface(&self, r: &PodDevice) -> Result<Found, String> {
        check_reference(r, true)?;
        let want = r.network_attachment.as_deref().unwrap_or_default();
        let e = self.entry(want)?;
        let Some(interface) = e.interface.clone().filter(|i| !i.is_empty()) else {
            return Err(format!(
                "network attachment {:?} has no interface in {NETWORK_STATUS} ({})",
                e.name, self.annotations_path
            ));
        };
        Ok(Found {
            name: interface.clone(),
            mac: entry_mac(&e)?,
            origin: PodOrigin {
                spec: r.clone(),
                source: format!(
                    "network-status entry {:?} (interface {interface}) in {}",
                    e.name, self.annotations_path
                ),
                fallback: None,
                mac_from_pod: false,
            },
        })
    }

    fn pci_from_status(&self, r: &PodDevice, want: &str) -> Result<Found, String> {
        let e = self.entry(want)?;
        let path = &self.annotations_path;
        let what = match &e.interface {
            Some(i) => format!("network attachment {:?} (interface {i})", e.name),
            None => format!("network attachment {:?}", e.name),
        };
        let Some(info) = &e.device_info else {
            return Err(format!(
                "{what} has no device-info in {NETWORK_STATUS} ({path}): its CNI reported no device; name the attachment's device plugin resource too, as resource = \"...\""
            ));
        };
        let version = info.version.strip_prefix('v').unwrap_or(&info.version);
        if version.split('.').next() != Some("1") {
            return Err(format!(
                "{what}: device-info version {:?} is not one cnfwd reads (1.0.0, 1.1.0)",
                info.version
            ));
        }
        if info.kind != "pci" {
            return Err(format!(
                "{what}: device-info type is {:?}, not \"pci\"; a dpdk port needs a PCI device",
                info.kind
            ));
        }
        let Some(raw) = info.pci.as_ref().and_then(|p| p.pci_address.as_deref()) else {
            return Err(format!("{what}: device-info has no pci.pci-address"));
        };
        let Some(address) = normalize_pci(raw) else {
            return Err(format!(
                "{what}: device-info pci-address {raw:?} is not a PCI address"
            ));
        };
        Ok(Found {
            name: address,
            mac: entry_mac(&e)?,
            origin: PodOrigin {
                spec: r.clone(),
                source: format!(
                    "network-status entry {:?}{} (device-info pci {}) in {path}",
                    e.name,
                    e.interface
                        .as_deref()
                        .map(|i| format!(", interface {i}"))
                        .unwrap_or_default(),
                    info.version
                ),
                fallback: None,
                mac_from_pod: false,
            },
        })
    }

    fn pci_from_resource(
        &self,
        r: &PodDevice,
        resource: &str,
        fallback: Option<String>,
    ) -> Result<Found, String> {
        let var = resource_env_var(resource);
        let Some(list) = self.env.get(&var) else {
            return Err(format!(
                "resource {resource:?}: no {var} in the environment (the SR-IOV device plugin sets it in containers that request the resource)"
            ));
        };
        let mut addresses = Vec::new();
        for a in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            match normalize_pci(a) {
                Some(n) => addresses.push(n),
                None => {
                    return Err(format!(
                        "resource {resource:?}: {var} holds {a:?}, which is not a PCI address"
                    ))
                }
            }
        }
        let index = match (r.index, addresses.len()) {
            (_, 0) => return Err(format!("resource {resource:?}: {var} is empty")),
            (Some(i), n) if i as usize >= n => {
                return Err(format!(
                    "resource {resource:?}: index {i}, but {var} lists {n} device{} ({})",
                    if n == 1 { "" } else { "s" },
                    addresses.join(", ")
                ))
            }
            (Some(i), _) => i as usize,
            (None, 1) => 0,
            (None, n) => {
                return Err(format!(
                    "resource {resource:?}: {var} lists {n} devices ({}); say which with index = 0..={}",
                    addresses.join(", "),
                    n - 1
                ))
            }
        };
        let address = addresses[index].clone();
        let info_var = format!("{var}_INFO");
        let info = match self.env.get(&info_var) {
            None => None,
            Some(json) => {
                let info: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
                    serde_json::from_str(json).map_err(|e| {
                        format!("resource {resource:?}: {info_var} is not valid JSON: {e}")
                    })?;
                let entry = info
                    .iter()
                    .find(|(k, _)| normalize_pci(k).as_deref() == Some(address.as_str()))
                    .map(|(_, v)| v.clone());
                match entry {
                    Some(e) => Some(describe_info(&e)),
                    None => {
                        return Err(format!(
                            "resource {resource:?}: {info_var} has no entry for {address}, which {var} lists"
                        ))
                    }
                }
            }
        };
        // The annotation, when readable, may still give this device's MAC.
        let mac = self
            .network_status()
            .ok()
            .and_then(|entries| {
                entries.into_iter().find(|e| {
                    e.device_info
                        .as_ref()
                        .and_then(|d| d.pci.as_ref())
                        .and_then(|p| p.pci_address.as_deref())
                        .and_then(normalize_pci)
                        .as_deref()
                        == Some(address.as_str())
                })
            })
            .and_then(|e| entry_mac(&e).ok().flatten());
        Ok(Found {
            name: address,
            mac,
            origin: PodOrigin {
                spec: r.clone(),
                source: format!(
                    "{var}[{index}] of {}{}",
                    addresses.len(),
                    info.map(|i| format!(" ({i})")).unwrap_or_default()
                ),
                fallback,
                mac_from_pod: false,
            },
        })
    }
}

/// The device plugin's variable for `resource`: `PCIDEVICE_` and the name
/// upper-cased with `.`, `/` and `-` as `_` (`intel.com/sriov_red` ->
/// `PCIDEVICE_INTEL_COM_SRIOV_RED`).
pub fn resource_env_var(resource: &str) -> String {
    let name: String = resource
        .chars()
        .map(|c| match c {
            '.' | '/' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("PCIDEVICE_{name}")
}

/// `generic, vfio (/dev/vfio/66)`: the kinds of information the device
/// plugin gave for one device.
fn describe_info(entry: &BTreeMap<String, serde_json::Value>) -> String {
    entry
        .iter()
        .map(
            |(kind, v)| match v.get("dev-mount").and_then(|m| m.as_str()) {
                Some(m) => format!("{kind} {m}"),
                None => kind.clone(),
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

fn entry_mac(e: &NetworkStatus) -> Result<Option<MacAddr>, String> {
    match e.mac.as_deref().filter(|m| !m.is_empty()) {
        None => Ok(None),
        Some(m) => m.parse().map(Some).map_err(|_| {
            format!(
                "network attachment {:?}: mac {m:?} in {NETWORK_STATUS} is not a MAC address",
                e.name
            )
        }),
    }
}

/// The rules of a reference, before anything is looked up.
fn check_reference(r: &PodDevice, for_interface: bool) -> Result<(), String> {
    if r.network_attachment.is_none() && r.resource.is_none() {
        return Err("names neither network_attachment nor resource".into());
    }
    if let Some(a) = &r.network_attachment {
        parse_wanted(a)?;
    }
    if for_interface && r.resource.is_some() {
        return Err("an af_packet interface comes from a network_attachment; a device plugin resource gives PCI addresses (that is device = { resource = ... } on dpdk ports)".into());
    }
    if let Some(res) = &r.resource {
        let ok = !res.is_empty()
            && res.contains('/')
            && res
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
        if !ok {
            return Err(format!(
                "resource {res:?} is not a device plugin resource name (vendor.domain/name)"
            ));
        }
    } else if r.index.is_some() {
        return Err("index picks one of a resource's devices; it needs resource".into());
    }
    Ok(())
}

// --- the process's pod ----------------------------------------------------

static PROCESS_POD: OnceLock<Pod> = OnceLock::new();

/// Sets the pod every [`crate::resolve`] of this process uses (the binary
/// calls it with `--pod-annotations` before loading the configuration).
/// Returns `false` if it was already set (or already read).
pub fn set_process_pod(pod: Pod) -> bool {
    PROCESS_POD.set(pod).is_ok()
}

/// The process's pod: the one set by [`set_process_pod`], else read once by
/// [`Pod::from_system`] when a reference first needs it.
pub fn process_pod() -> &'static Pod {
    PROCESS_POD.get_or_init(|| Pod::from_system(None))
}

// --- generate-config ------------------------------------------------------

/// The backend `generate-config` writes ports for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerateBackend {
    /// `device = { network_attachment = ... }` (VFs bound to vfio-pci).
    Dpdk,
    /// `interface = { network_attachment = ... }` (VFs with a kernel driver).
    AfPacket,
}

/// Reads `text` as a downward-API annotations file, or, if it starts with
/// `[`, as the `network-status` JSON itself.
pub fn network_status_of_file(text: &str) -> Result<Vec<NetworkStatus>, String> {
    if text.trim_start().starts_with('[') {
        return parse_network_status(text)
            .map_err(|e| format!("not valid network-status JSON: {e}"));
    }
    let annotations = parse_annotations(text).map_err(|e| e.to_string())?;
    let json = annotations
        .get(NETWORK_STATUS)
        .ok_or_else(|| format!("no {NETWORK_STATUS} annotation"))?;
    parse_network_status(json)
        .map_err(|e| format!("{NETWORK_STATUS} is not valid network-status JSON: {e}"))
}

/// A configuration name (1..=64 of letters, digits, `-_.`) for attachment
/// `full`: without its namespace when that is unique, else `ns.name`.
fn config_name(full: &str, unique: bool) -> String {
    let base = if unique { split_ns(full).1 } else { full };
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    s.truncate(64);
    if s.is_empty() {
        s.push_str("net");
    }
    s
}

/// The pod's addresses on an attachment as connected prefixes: the first
/// IPv4 and the first IPv6 one, each with whether network-status gave the
/// prefix length (else /24 or /64 is guessed).
fn attachment_prefixes(ips: &[String]) -> [Option<(ipnet::IpNet, bool)>; 2] {
    let mut out = [None, None];
    for ip in ips {
        let parsed = match ip.parse::<ipnet::IpNet>() {
            Ok(n) => Some((n, true)),
            Err(_) => ip.parse::<std::net::IpAddr>().ok().map(|a| {
                let len = if a.is_ipv4() { 24 } else { 64 };
                (
                    ipnet::IpNet::new(a, len).unwrap_or(ipnet::IpNet::from(a)),
                    false,
                )
            }),
        };
        if let Some((n, given)) = parsed {
            let slot = usize::from(matches!(n, ipnet::IpNet::V6(_)));
            out[slot].get_or_insert((n, given));
        }
    }
    out
}

/// A starting `cnfwd.toml` for a pod: one access port per SR-IOV attachment
/// (`device-info` type `pci`) naming its attachment, and one network per
/// port named after the attachment: an L3 network when the attachment has
/// addresses (the pod's address becomes cnfwd's gateway address), else an L2
/// network. All L3 networks route in one isolation domain `pod`, unless
/// their prefixes overlap. Valid as written; comments mark the guesses to
/// check (prefix lengths when network-status gives bare addresses, VLAN ids,
/// engine settings). `source` names the input in the header.
pub fn generate_config(
    entries: &[NetworkStatus],
    source: &str,
    backend: GenerateBackend,
) -> Result<String, String> {
    use std::fmt::Write as _;
    let describe = |e: &NetworkStatus| match &e.interface {
        Some(i) => format!("{:?} ({i})", e.name),
        None => format!("{:?}", e.name),
    };
    let (sriov, skipped): (Vec<&NetworkStatus>, Vec<&NetworkStatus>) =
        entries.iter().partition(|e| {
            e.device_info.as_ref().is_some_and(|d| d.kind == "pci")
                && (backend == GenerateBackend::Dpdk || e.interface.is_some())
        });
    let skipped_secondary = skipped.iter().any(|e| !e.default);
    let skipped: Vec<String> = skipped.into_iter().map(describe).collect();
    if sriov.is_empty() {
        return Err(format!(
            "{source}: no SR-IOV attachment (device-info type \"pci\"{}) in {NETWORK_STATUS}; it lists {}",
            if backend == GenerateBackend::AfPacket { " with an interface" } else { "" },
            if skipped.is_empty() { "nothing".to_owned() } else { skipped.join(", ") }
        ));
    }

    let mut head = String::new();
    let mut domains: Vec<(String, String)> = Vec::new();
    let mut ports = String::new();
    let mut networks = String::new();
    let mut connected: Vec<(ipnet::IpNet, String)> = Vec::new();
    for (k, e) in sriov.iter().enumerate() {
        let base = split_ns(&e.name).1;
        let unique = !sriov
            .iter()
            .any(|o| o.name != e.name && split_ns(&o.name).1 == base);
        let twice = sriov.iter().filter(|o| o.name == e.name).count() > 1;
        let (reference, name) = match (&e.interface, twice) {
            (Some(i), true) => (
                format!("{}@{i}", e.name),
                config_name(&format!("{}-{i}", config_name(&e.name, unique)), true),
            ),
            _ => (e.name.clone(), config_name(&e.name, unique)),
        };
        let pci = e
            .device_info
            .as_ref()
            .and_then(|d| d.pci.as_ref())
            .and_then(|p| p.pci_address.as_deref())
            .unwrap_or("-");
        let p = &mut ports;
        let _ = writeln!(p);
        let _ = writeln!(
            p,
            "# {:?}: interface {}, PCI {pci}, MAC {}, addresses {}",
            e.name,
            e.interface.as_deref().unwrap_or("-"),
            e.mac.as_deref().unwrap_or("-"),
            if e.ips.is_empty() {
                "none".to_owned()
            } else {
                e.ips.join(", ")
            }
        );
        let _ = writeln!(p, "[[ports]]");
        let _ = writeln!(p, "name = {name:?}");
        let (kind, field) = match backend {
            GenerateBackend::Dpdk => ("dpdk", "device"),
            GenerateBackend::AfPacket => ("af_packet", "interface"),
        };
        let _ = writeln!(p, "backend = \"{kind}\"");
        let _ = writeln!(p, "{field} = {{ network_attachment = {reference:?} }}");
        let _ = writeln!(
            p,
            "# mac = \"...\"   # default: the attachment's MAC in network-status"
        );
        let _ = writeln!(p, "mode = \"access\"");
        let _ = writeln!(p, "networks = [{name:?}]");

        let vlan = 100 + k;
        let vlan_line = format!(
            "vlan = {vlan}   # CHECK: cnfwd's id for the network (carried untagged on the port)"
        );
        let n = &mut networks;
        let [v4, v6] = attachment_prefixes(&e.ips);
        if v4.is_none() && v6.is_none() {
            let _ = writeln!(n);
            let _ = writeln!(n, "[[l2_networks]]   # {:?} has no addresses", e.name);
            let _ = writeln!(n, "name = {name:?}");
            let _ = writeln!(n, "{vlan_line}");
            continue;
        }
        let prefixes: Vec<(ipnet::IpNet, bool)> = [v4, v6].into_iter().flatten().collect();
        let clash = connected.iter().find(|(c, _)| {
            prefixes
                .iter()
                .any(|(p, _)| c.contains(&p.trunc()) || p.trunc().contains(c))
        });
        let domain = match clash {
            None => "pod".to_owned(),
            Some((c, other)) => {
                let d = format!("pod-{name}");
                let why = format!("its prefixes overlap {c} of {other:?}, so it routes in a VRF of its own; CHECK");
                domains.push((d.clone(), why));
                d
            }
        };
        if domain == "pod" && !domains.iter().any(|(d, _)| d == "pod") {
            domains.insert(
                0,
                (
                    "pod".into(),
                    "the attachments' L3 networks route in it; add static_routes here".into(),
                ),
            );
        }
        connected.extend(prefixes.iter().map(|(p, _)| (p.trunc(), name.clone())));
        let kind = match (v4.is_some(), v6.is_some()) {
            (true, true) => "DualStack",
            (true, false) => "IPV4",
            _ => "IPV6",
        };
        let _ = writeln!(n);
        let _ = writeln!(n, "[[l3_networks]]");
        let _ = writeln!(n, "name = {name:?}");
        let _ = writeln!(n, "{vlan_line}");
        let _ = writeln!(n, "l3_isolation_domain = {domain:?}");
        let _ = writeln!(n, "ip_allocation_type = \"{kind}\"");
        for (fam, (p, given)) in ["ipv4", "ipv6"]
            .into_iter()
            .zip([v4, v6])
            .filter_map(|(f, p)| Some((f, p?)))
        {
            let note = if given {
                String::new()
            } else {
                format!(
                    "   # CHECK: network-status gives {} without a prefix length; /{} guessed",
                    p.addr(),
                    p.prefix_len()
                )
            };
            let _ = writeln!(n, "{fam}_connected_prefix = \"{}\"{note}", p.trunc());
            let _ = writeln!(
                n,
                "{fam}_gateway = \"{}\"   # the pod's address on the attachment",
                p.addr()
            );
        }
    }

    let h = &mut head;
    let _ = writeln!(
        h,
        "# cnfwd.toml for this pod, written by `cnfwd generate-config` from {source}."
    );
    let _ = writeln!(h, "#");
    let _ = writeln!(
        h,
        "# Each port names its network attachment, not a PCI address: cnfwd reads the"
    );
    let _ = writeln!(
        h,
        "# device (and the MAC) from the pod's {NETWORK_STATUS} annotation"
    );
    let _ = writeln!(
        h,
        "# when it starts, so this file fits every pod of the deployment. Mount the"
    );
    let _ = writeln!(
        h,
        "# annotations with the downward API at {DEFAULT_ANNOTATIONS} (or name the file"
    );
    let _ = writeln!(h, "# with --pod-annotations or {ANNOTATIONS_ENV}); `cnfwd check` prints what each port found.");
    let _ = writeln!(h, "#");
    let _ = writeln!(
        h,
        "# Valid as written; lines marked CHECK hold guesses to confirm before use."
    );
    if !skipped.is_empty() {
        let _ = writeln!(
            h,
            "# Left out (no PCI device-info{}): {}.",
            if backend == GenerateBackend::AfPacket {
                " or no interface"
            } else {
                ""
            },
            skipped.join(", ")
        );
        if backend == GenerateBackend::Dpdk && skipped_secondary {
            let _ = writeln!(
                h,
                "# An SR-IOV attachment whose CNI writes no device-info can still be a port:"
            );
            let _ = writeln!(
                h,
                "#   device = {{ network_attachment = \"ns/name\", resource = \"<its resourceName>\" }}"
            );
        }
    }
    let _ = writeln!(h);
    let _ = writeln!(h, "[engine]");
    let _ = writeln!(
        h,
        "workers = 1   # CHECK: one worker per core cnfwd may use"
    );
    let _ = writeln!(h, "idle = \"adaptive\"   # CHECK: sleeps when idle, for shared cores; \"busy\" polls without pause");
    if backend == GenerateBackend::Dpdk {
        let _ = writeln!(h);
        let _ = writeln!(h, "[dpdk]");
        let _ = writeln!(
            h,
            "# CHECK: the EAL command line (cores, memory, e.g. [\"-l\", \"0\", \"--in-memory\"]);"
        );
        let _ = writeln!(h, "# EAL probes the pod's vfio-pci devices.");
        let _ = writeln!(h, "eal_args = []");
    }
    for (d, why) in &domains {
        let _ = writeln!(h);
        let _ = writeln!(h, "[[l3_isolation_domains]]   # {why}");
        let _ = writeln!(h, "name = {d:?}");
    }
    head.push_str(&ports);
    head.push_str(&networks);
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_every_go_escape() {
        let cases: &[(&str, &str)] = &[
            (r#""""#, ""),
            (r#""plain""#, "plain"),
            (r#""a\"b\\c""#, "a\"b\\c"),
            (r#""\a\b\f\n\r\t\v""#, "\x07\x08\x0c\n\r\t\x0b"),
            (r#""\x41\x7f""#, "A\x7f"),
            (r#""\101\000\177""#, "A\0\x7f"),
            (r#""\u00e9\u00A0""#, "\u{e9}\u{a0}"),
            (r#""\U0001F600""#, "\u{1F600}"),
            (r#""caf\u00e9 café""#, "café café"),
            // Bytes from \x escapes that together make UTF-8.
            (r#""\xc3\xa9""#, "é"),
            (r#""\303\251""#, "é"),
        ];
        for (quoted, want) in cases {
            assert_eq!(go_unquote(quoted).as_deref(), Ok(*want), "{quoted}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        let cases: &[(&str, usize, &str)] = &[
            ("plain", 0, "not a double-quoted Go string"),
            ("\"", 0, "not a double-quoted Go string"),
            ("'a'", 0, "not a double-quoted Go string"),
            ("`raw`", 0, "not a double-quoted Go string"),
            (r#""a"b""#, 2, "unescaped '\"' inside the string"),
            ("\"a\nb\"", 2, "newline inside the string"),
            (r#""ab\""#, 3, "'\\' escapes the closing quote"),
            (r#""\q""#, 1, "unknown escape \\q"),
            (r#""\é""#, 1, "unknown escape \\é"),
            (
                r#""\'""#,
                1,
                "\\' is not an escape in a double-quoted string",
            ),
            (r#""\x4""#, 1, "\\x needs 2 hex digits"),
            (r#""\xg0""#, 1, "\\x needs 2 hex digits"),
            (r#""\u12""#, 1, "\\u needs 4 hex digits"),
            (r#""\uD800""#, 1, "\\uD800 is not a Unicode scalar value"),
            (
                r#""\U00110000""#,
                1,
                "\\U00110000 is not a Unicode scalar value",
            ),
            (r#""\400""#, 1, "octal escape above \\377"),
            (r#""\18""#, 1, "an octal escape needs three digits (\\NNN)"),
            (
                r#""ok\xff""#,
                3,
                "\\x or octal escapes make bytes that are not UTF-8",
            ),
            (
                r#""\xc3\x28""#,
                1,
                "\\x or octal escapes make bytes that are not UTF-8",
            ),
        ];
        for (quoted, at, what) in cases {
            let e = go_unquote(quoted).expect_err(quoted);
            assert_eq!((e.at, e.what.as_str()), (*at, *what), "{quoted}");
        }
    }

    #[test]
    fn annotations_file_lines() {
        let text = "a.io/x=\"1\"\nb=\"two \\\"quoted\\\"\"\n\nc=\"\"";
        let m = parse_annotations(text).unwrap();
        assert_eq!(m["a.io/x"], "1");
        assert_eq!(m["b"], "two \"quoted\"");
        assert_eq!(m["c"], "");
        assert_eq!(
            parse_annotations("a=\"1\"\nb").unwrap_err().to_string(),
            "line 2: expected key=\"value\""
        );
        assert_eq!(
            parse_annotations("a=\"1\"\nkey=\"x\\qy\"")
                .unwrap_err()
                .to_string(),
            "line 2 column 7 (key): bad Go quoting: unknown escape \\q"
        );
        assert_eq!(
            parse_annotations("a=\"1\"\na=\"2\"")
                .unwrap_err()
                .to_string(),
            "line 2 (a): the annotation appears twice"
        );
    }

    #[test]
    fn pci_addresses_normalized() {
        assert_eq!(
            normalize_pci("0000:AF:06.0").as_deref(),
            Some("0000:af:06.0")
        );
        assert_eq!(normalize_pci("af:06.1").as_deref(), Some("0000:af:06.1"));
        assert_eq!(
            normalize_pci("10000:01:00.7").as_deref(),
            Some("10000:01:00.7")
        );
        for bad in [
            "",
            "0000:af:06",
            "0000:af:20.0",
            "0000:af:06.8",
            "x:af:06.0",
            "net_pcap0",
        ] {
            assert_eq!(normalize_pci(bad), None, "{bad}");
        }
    }

    #[test]
    fn resource_variable_names() {
        assert_eq!(
            resource_env_var("intel.com/sriov_red"),
            "PCIDEVICE_INTEL_COM_SRIOV_RED"
        );
        assert_eq!(
            resource_env_var("openshift.io/mlx-vf"),
            "PCIDEVICE_OPENSHIFT_IO_MLX_VF"
        );
    }

    fn entry(name: &str, interface: &str) -> NetworkStatus {
        NetworkStatus {
            name: name.into(),
            interface: Some(interface.into()),
            ips: vec![],
            mac: None,
            default: false,
            device_info: None,
        }
    }

    #[test]
    fn names_with_and_without_namespace() {
        let list = [
            entry("cbr0", "eth0"),
            entry("ns1/red", "net1"),
            entry("blue", "net2"),
            entry("ns1/green", "net3"),
            entry("ns2/green", "net4"),
            entry("ns1/twice", "net5"),
            entry("ns1/twice", "net6"),
        ];
        let iface = |want: &str, ns: Option<&str>| {
            find_network(&list, want, ns).map(|e| e.interface.clone().unwrap())
        };
        assert_eq!(iface("ns1/red", None).unwrap(), "net1");
        assert_eq!(iface("red", None).unwrap(), "net1");
        assert_eq!(iface("red", Some("ns1")).unwrap(), "net1");
        assert!(iface("red", Some("ns2")).is_err());
        // Listed without namespace: the pod's own.
        assert_eq!(iface("blue", None).unwrap(), "net2");
        assert_eq!(iface("ns1/blue", None).unwrap(), "net2");
        assert_eq!(iface("ns1/blue", Some("ns1")).unwrap(), "net2");
        assert!(iface("ns2/blue", Some("ns1")).is_err());
        // Bare name in two namespaces: the pod's namespace decides, else ambiguous.
        assert_eq!(iface("green", Some("ns2")).unwrap(), "net4");
        assert_eq!(
            iface("green", None).unwrap_err(),
            "network attachment \"green\" matches \"ns1/green\" (net3) and \"ns2/green\" (net4) in k8s.v1.cni.cncf.io/network-status; write its namespace, or @interface"
        );
        // One network attached twice: @interface picks.
        assert!(iface("ns1/twice", None).is_err());
        assert_eq!(iface("ns1/twice@net6", None).unwrap(), "net6");
        assert_eq!(
            iface("ns1/nope", None).unwrap_err(),
            "network attachment \"ns1/nope\" is not in the k8s.v1.cni.cncf.io/network-status annotation, which lists \"cbr0\" (eth0), \"ns1/red\" (net1), \"blue\" (net2), \"ns1/green\" (net3), \"ns2/green\" (net4), \"ns1/twice\" (net5), \"ns1/twice\" (net6)"
        );
        assert!(iface("a/b/c", None).is_err());
    }
}
