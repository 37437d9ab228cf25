//! The passes over the ports: backends (and what a pod attachment or
//! resource resolves to), MACs, attachments to networks, MTUs; then the
//! L2 networks' static MACs and the one-port rule of L3 networks.

use std::collections::{HashMap, HashSet};

use super::networks::{Networks, Trunks};
use super::{check_mtu, check_name, q, Errors};
use crate::attachment::{Found, Pod};
use crate::model::{BackendKind, Config, DeviceSpec, PodDevice, Port, PortMode};
use crate::resolved::{Attachment, NetworkId, PortBackend, PortId, ResolvedNetwork, ResolvedPort};

/// Every port (one that attaches to nothing is left out, its error
/// pushed); each network learns the ports that carry it.
pub(super) fn ports<'p>(
    errs: &mut Errors,
    config: &Config,
    pod: &dyn Fn() -> &'p Pod,
    nets: &mut Networks<'_>,
    trunks: &Trunks<'_>,
) -> Vec<ResolvedPort> {
    let mut ports = Vec::new();
    let mut port_names = HashSet::new();
    let first_backend = config.ports.first().map(|p| p.backend);
    for (i, p) in config.ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        check_name(errs, &format!("{path}.name"), &p.name);
        if !port_names.insert(p.name.as_str()) {
            errs.push(format!("{path}.name"), q(&p.name), "duplicate port name");
        }
        if Some(p.backend) != first_backend {
            errs.push(
                format!("{path}.backend"),
                q(p.backend.as_str()),
                format!(
                    "all ports must use one backend (ports[0] uses {:?})",
                    first_backend.map(BackendKind::as_str).unwrap_or("")
                ),
            );
        }
        let (backend, found) = resolve_backend(errs, &path, p, pod);
        let (found_mac, mut origin) = found.map_or((None, None), |f| (f.mac, Some(f.origin)));
        if let Some(o) = &mut origin {
            o.mac_from_pod = p.mac.is_none() && found_mac.is_some();
        }
        // Two ports on one device found in the pod (the same attachment, or
        // a resource index that an attachment's device has too).
        let name = backend_name(&backend);
        let twice = ports.iter().find(|q: &&ResolvedPort| {
            !name.is_empty()
                && backend_name(&q.backend) == name
                && (origin.is_some() || q.pod.is_some())
        });
        if let Some(other) = twice {
            let (field, value) = match (&origin, p.backend) {
                (Some(o), BackendKind::Dpdk) => ("device", o.spec.to_string()),
                (Some(o), _) => ("interface", o.spec.to_string()),
                (None, BackendKind::Dpdk) => ("device", q(name)),
                (None, _) => ("interface", q(name)),
            };
            errs.push(
                format!("{path}.{field}"),
                value,
                format!("resolves to {name}, which port {:?} uses too", other.name),
            );
        }
        if p.backend == BackendKind::Pcap && p.mac.is_none() {
            errs.push(
                format!("{path}.mac"),
                "(absent)",
                "pcap ports need a mac (there is no device to read it from)",
            );
        }
        if let Some(m) = p.mac {
            if m.is_multicast() {
                errs.push(
                    format!("{path}.mac"),
                    m.to_string(),
                    "a port MAC must be unicast",
                );
            }
        } else if let Some(m) = found_mac.filter(|m| m.is_multicast()) {
            errs.push(
                format!("{path}.mac"),
                "(absent)",
                format!("the attachment's MAC {m} in network-status is not unicast; set mac"),
            );
        }
        let Some(attachment) = attachment(errs, &path, p, &nets.ids, trunks) else {
            continue;
        };
        let attached: Vec<NetworkId> = match &attachment {
            Attachment::Access(n) => vec![*n],
            Attachment::Trunk(map) => map.iter().map(|&(_, n)| n).collect(),
        };
        let max_net_mtu = attached
            .iter()
            .map(|&n| nets.list[n as usize].mtu)
            .max()
            .unwrap_or(1500);
        let mtu = match p.mtu {
            Some(m) => {
                check_mtu(errs, &format!("{path}.mtu"), m);
                if m < max_net_mtu {
                    errs.push(
                        format!("{path}.mtu"),
                        m.to_string(),
                        format!("smaller than the MTU {max_net_mtu} of a network it carries"),
                    );
                }
                m
            }
            None => max_net_mtu,
        };
        let id = ports.len() as PortId;
        for n in attached {
            nets.list[n as usize].ports.push(id);
        }
        ports.push(ResolvedPort {
            name: p.name.clone(),
            backend,
            mac: p.mac.or(found_mac),
            mtu,
            numa_node: p.numa_node,
            attachment,
            pod: origin,
        });
    }
    ports
}

/// What an access port (one network) or a trunk port (a trunked network)
/// carries.
fn attachment(
    errs: &mut Errors,
    path: &str,
    p: &Port,
    net_ids: &HashMap<&str, NetworkId>,
    trunks: &Trunks<'_>,
) -> Option<Attachment> {
    match p.mode {
        PortMode::Access => {
            if let Some(t) = &p.trunked_network {
                errs.push(
                    format!("{path}.trunked_network"),
                    q(t),
                    "only trunk ports carry a trunked network (mode = \"trunk\")",
                );
            }
            match p.networks.as_slice() {
                [one] => match net_ids.get(one.as_str()) {
                    Some(&id) => Some(Attachment::Access(id)),
                    None => {
                        errs.push(
                            format!("{path}.networks[0]"),
                            q(one),
                            "no L2 or L3 network has this name",
                        );
                        None
                    }
                },
                other => {
                    errs.push(
                        format!("{path}.networks"),
                        format!("{other:?}"),
                        format!(
                            "an access port carries exactly one network, got {}",
                            other.len()
                        ),
                    );
                    None
                }
            }
        }
        PortMode::Trunk => {
            if !p.networks.is_empty() {
                errs.push(
                    format!("{path}.networks"),
                    format!("{:?}", p.networks),
                    "a trunk port carries a trunked_network, not networks",
                );
            }
            match &p.trunked_network {
                None => {
                    errs.push(
                        format!("{path}.trunked_network"),
                        "(absent)",
                        "required for mode = \"trunk\"",
                    );
                    None
                }
                Some(t) => match trunks.ids.get(t.as_str()) {
                    Some(&k) => Some(Attachment::Trunk(trunks.maps[k].clone())),
                    None => {
                        errs.push(
                            format!("{path}.trunked_network"),
                            q(t),
                            "no trunked_networks entry has this name",
                        );
                        None
                    }
                },
            }
        }
    }
}

/// Static MACs of L2 networks: each on a port that carries the network.
pub(super) fn static_macs(
    errs: &mut Errors,
    config: &Config,
    ports: &[ResolvedPort],
    networks: &mut [ResolvedNetwork],
) {
    for (i, n) in config.l2_networks.iter().enumerate() {
        for (j, sm) in n.static_macs.iter().enumerate() {
            let path = format!("l2_networks[{i}].static_macs[{j}]");
            let port = ports.iter().position(|p| p.name == sm.port);
            match port {
                Some(p) if networks[i].ports.contains(&(p as PortId)) => {
                    if sm.mac.octets()[0] & 1 != 0 {
                        errs.push(
                            format!("{path}.mac"),
                            sm.mac.to_string(),
                            "must be a unicast MAC".to_string(),
                        );
                    } else {
                        networks[i].static_macs.push((sm.mac, p as PortId));
                    }
                }
                Some(_) => errs.push(
                    format!("{path}.port"),
                    q(&sm.port),
                    format!("port does not carry network {:?}", n.name),
                ),
                None => errs.push(format!("{path}.port"), q(&sm.port), "no port has this name"),
            }
        }
    }
}

/// An L3 network is attached to at most one port.
pub(super) fn one_port_per_l3_network(
    errs: &mut Errors,
    nets: &Networks<'_>,
    ports: &[ResolvedPort],
) {
    for (n, path) in nets.list.iter().zip(&nets.paths) {
        if n.l3.is_some() && n.ports.len() > 1 {
            let names: Vec<&str> = n
                .ports
                .iter()
                .map(|&p| ports[p as usize].name.as_str())
                .collect();
            errs.push(
                format!("{path}.name"),
                q(&n.name),
                format!("an L3 network is attached to at most one port, found {names:?}"),
            );
        }
    }
}

/// The device or interface a backend names (empty for pcap).
fn backend_name(b: &PortBackend) -> &str {
    match b {
        PortBackend::Pcap { .. } => "",
        PortBackend::AfPacket { interface } => interface,
        PortBackend::Dpdk { device } => device,
    }
}

/// A port's backend settings; for a `device`/`interface` naming the pod's
/// attachment or resource, also what it resolved to.
fn resolve_backend<'p>(
    errs: &mut Errors,
    path: &str,
    p: &Port,
    pod: &dyn Fn() -> &'p Pod,
) -> (PortBackend, Option<Found>) {
    let shown = |d: &Option<DeviceSpec>| {
        d.as_ref().map(|d| match d {
            DeviceSpec::Name(n) => q(n),
            DeviceSpec::Pod(r) => r.to_string(),
        })
    };
    // The settings of the other backends, in this order.
    for (field, value, owner) in [
        ("rx_pcap", p.rx_pcap.as_deref().map(q), BackendKind::Pcap),
        ("tx_pcap", p.tx_pcap.as_deref().map(q), BackendKind::Pcap),
        ("interface", shown(&p.interface), BackendKind::AfPacket),
        ("device", shown(&p.device), BackendKind::Dpdk),
    ] {
        if let Some(v) = value.filter(|_| owner != p.backend) {
            errs.push(
                format!("{path}.{field}"),
                v,
                format!("only for backend = {:?}", owner.as_str()),
            );
        }
    }
    match p.backend {
        BackendKind::Pcap => (
            PortBackend::Pcap {
                rx: p.rx_pcap.clone(),
                tx: p.tx_pcap.clone(),
            },
            None,
        ),
        BackendKind::AfPacket | BackendKind::Dpdk => {
            let dpdk = p.backend == BackendKind::Dpdk;
            let (spec, name) = if dpdk {
                (&p.device, "device")
            } else {
                (&p.interface, "interface")
            };
            let backend = |name: String| match dpdk {
                true => PortBackend::Dpdk { device: name },
                false => PortBackend::AfPacket { interface: name },
            };
            let field = format!("{path}.{name}");
            let find = |r: &PodDevice| match dpdk {
                true => pod().pci_device(r),
                false => pod().interface(r),
            };
            let Some((name, found)) = device_name(errs, &field, spec, find) else {
                return (backend(String::new()), None);
            };
            if dpdk && name.is_empty() {
                errs.push(
                    field,
                    "(absent)",
                    "backend dpdk needs a PCI address or vdev string, or { network_attachment = \"namespace/name\" }",
                );
            } else if !dpdk && (name.is_empty() || name.len() > 15 || name.contains(['/', ' '])) {
                let why = "backend af_packet needs a Linux interface name (1..=15 characters, no '/' or space)";
                match &found {
                    Some(f) => errs.push(
                        field,
                        f.origin.spec.to_string(),
                        format!("resolves to {name:?}: {why}"),
                    ),
                    None => errs.push(field, q(&name), why),
                }
            }
            (backend(name), found)
        }
    }
}

/// The device or interface `spec` names (empty when absent), with what the
/// pod resolved it to; `None`, its error pushed at `field`, when the pod
/// has no such attachment or resource (`find`).
fn device_name(
    errs: &mut Errors,
    field: &str,
    spec: &Option<DeviceSpec>,
    find: impl FnOnce(&PodDevice) -> Result<Found, String>,
) -> Option<(String, Option<Found>)> {
    match spec {
        Some(DeviceSpec::Pod(r)) => match find(r) {
            Ok(f) => Some((f.name.clone(), Some(f))),
            Err(why) => {
                errs.push(field, r.to_string(), why);
                None
            }
        },
        Some(DeviceSpec::Name(n)) => Some((n.clone(), None)),
        None => Some((String::new(), None)),
    }
}
