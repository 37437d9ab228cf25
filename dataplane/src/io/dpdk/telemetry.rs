//! What DPDK's ethdev telemetry (`lib/ethdev`, 22.11) reports about a port,
//! read live from the device through the public ethdev API, for cnfwd's
//! own `/ethdev/*` endpoints (`control::ethdev`).
//!
//! DPDK's handlers read the ethdev's private data; the public calls used
//! here give the same values, except three facts cnfwd knows itself: a
//! port it serves is attached (`state` 1), configured and started
//! (`dev_configured`, `dev_started` 1). A queue whose driver cannot
//! describe it (`rte_eth_rx_queue_info_get` unsupported) is reported
//! started (cnfwd starts every queue it sets up).

use std::ffi::{c_char, CStr};
use std::marker::PhantomData;

use cnfwd_config::PortId;
use dpdk_sys as sys;
use serde_json::{json, Map, Value};

use super::{DpdkBackend, Eal};
use crate::io::DeviceTelemetry;

/// `RTE_ETH_RX_OFFLOAD_TCP_LRO` (`RTE_BIT64(4)`; bindgen cannot evaluate it).
const RX_OFFLOAD_TCP_LRO: u64 = 1 << 4;
/// `RTE_ETH_NAME_MAX_LEN`.
const NAME_MAX_LEN: usize = 64;

/// `rte_eth_stats_get` of DPDK port `id`; `None` when the driver fails.
pub(super) fn eth_stats(id: u16) -> Option<sys::rte_eth_stats> {
    // SAFETY: all-zero is a valid `rte_eth_stats` to be filled.
    let mut st: sys::rte_eth_stats = unsafe { std::mem::zeroed() };
    // SAFETY: EAL is initialised (callers hold a backend or telemetry view
    // that borrows the `Eal`); any port id is accepted (an unknown one
    // returns -ENODEV); `st` is a valid out-pointer.
    let ret = unsafe { sys::rte_eth_stats_get(id, &mut st) };
    (ret == 0).then_some(st)
}

/// The ethdevs of a running DPDK backend as DPDK's telemetry shows them,
/// readable from the control thread while the workers forward (DPDK's own
/// telemetry thread does the same). Borrows the EAL, so it cannot outlive
/// it.
#[derive(Debug, Clone)]
pub struct DpdkTelemetry<'e> {
    /// Per cnfwd port: DPDK port id and the mbuf data room of its pool.
    ports: Vec<(u16, u16)>,
    _eal: PhantomData<&'e Eal>,
}

impl<'e> DpdkBackend<'e> {
    /// A telemetry view of this backend's ports (see [`DpdkTelemetry`]).
    pub fn telemetry(&self) -> DpdkTelemetry<'e> {
        DpdkTelemetry {
            ports: self.set.ports.iter().map(|p| (p.port_id, p.room)).collect(),
            _eal: PhantomData,
        }
    }
}

impl DpdkTelemetry<'_> {
    fn id(&self, port: PortId) -> Option<u16> {
        self.ports.get(usize::from(port)).map(|p| p.0)
    }
}

fn mac_upper(b: [u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

impl DeviceTelemetry for DpdkTelemetry<'_> {
    fn stats(&self, port: PortId) -> Option<Value> {
        let st = eth_stats(self.id(port)?)?;
        Some(json!({
            "ipackets": st.ipackets,
            "opackets": st.opackets,
            "ibytes": st.ibytes,
            "obytes": st.obytes,
            "imissed": st.imissed,
            "ierrors": st.ierrors,
            "oerrors": st.oerrors,
            "rx_nombuf": st.rx_nombuf,
            "q_ipackets": st.q_ipackets.to_vec(),
            "q_opackets": st.q_opackets.to_vec(),
            "q_ibytes": st.q_ibytes.to_vec(),
            "q_obytes": st.q_obytes.to_vec(),
            "q_errors": st.q_errors.to_vec(),
        }))
    }

    fn xstats(&self, port: PortId) -> Option<Value> {
        let id = self.id(port)?;
        // SAFETY: EAL is initialised (`'e`); a null array with size 0 asks
        // for the count only.
        let n = unsafe { sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0) };
        let n = usize::try_from(n).ok()?;
        // SAFETY: all-zero is a valid `rte_eth_xstat_name` / `rte_eth_xstat`.
        let mut names: Vec<sys::rte_eth_xstat_name> = vec![unsafe { std::mem::zeroed() }; n];
        // SAFETY: as above.
        let mut values: Vec<sys::rte_eth_xstat> = vec![unsafe { std::mem::zeroed() }; n];
        let size = u32::try_from(n).ok()?;
        // SAFETY: `names` has room for `size` entries.
        let got_names = unsafe { sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), size) };
        // SAFETY: `values` has room for `size` entries.
        let got = unsafe { sys::rte_eth_xstats_get(id, values.as_mut_ptr(), size) };
        if got_names < 0 || got < 0 || got_names != got {
            return None;
        }
        let mut m = Map::new();
        for (name, v) in names.iter().zip(&values).take(got as usize) {
            // SAFETY: DPDK writes NUL-terminated names into the 64-byte
            // arrays (`strlcpy`); the array was zeroed, so a NUL is there.
            let name = unsafe { CStr::from_ptr(name.name.as_ptr()) };
            m.insert(name.to_string_lossy().into_owned(), v.value.into());
        }
        Some(Value::Object(m))
    }

    fn info(&self, port: PortId) -> Option<Value> {
        let &(id, room) = self.ports.get(usize::from(port))?;
        let mut name = [0 as c_char; NAME_MAX_LEN];
        // SAFETY: `name` has RTE_ETH_NAME_MAX_LEN bytes, as the call needs.
        if unsafe { sys::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: written NUL-terminated by DPDK into a zeroed buffer.
        let name = unsafe { CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: all-zero is a valid `rte_eth_dev_info` to be filled.
        let mut info: sys::rte_eth_dev_info = unsafe { std::mem::zeroed() };
        // SAFETY: the port exists; `info` is a valid out-pointer.
        if unsafe { sys::rte_eth_dev_info_get(id, &mut info) } != 0 {
            return None;
        }
        // SAFETY: all-zero is a valid `rte_eth_conf` to be filled.
        let mut conf: sys::rte_eth_conf = unsafe { std::mem::zeroed() };
        // SAFETY: the port exists; `conf` is a valid out-pointer.
        let conf_ok = unsafe { sys::rte_eth_dev_conf_get(id, &mut conf) } == 0;
        let mut mtu = 0u16;
        // SAFETY: the port exists; `mtu` is a valid out-pointer.
        let _ = unsafe { sys::rte_eth_dev_get_mtu(id, &mut mtu) };
        // SAFETY: all-zero is a valid `rte_ether_addr`.
        let mut mac: sys::rte_ether_addr = unsafe { std::mem::zeroed() };
        // SAFETY: the port exists; `mac` is a valid out-pointer.
        let _ = unsafe { sys::rte_eth_macaddr_get(id, &mut mac) };
        // SAFETY: the port exists (each returns 1, 0 or a negative error).
        let promisc = unsafe { sys::rte_eth_promiscuous_get(id) }.max(0);
        // SAFETY: as above.
        let allmulti = unsafe { sys::rte_eth_allmulticast_get(id) }.max(0);
        // SAFETY: any port id is accepted.
        let numa = unsafe { sys::rte_eth_dev_socket_id(id) };
        let mut scattered = 0u8;
        let rxq_state: Vec<u8> = (0..info.nb_rx_queues)
            .map(|q| {
                // SAFETY: all-zero is a valid `rte_eth_rxq_info` to be filled.
                let mut qi: sys::rte_eth_rxq_info = unsafe { std::mem::zeroed() };
                // SAFETY: `q` < nb_rx_queues; `qi` is a valid out-pointer.
                if unsafe { sys::rte_eth_rx_queue_info_get(id, q, &mut qi) } == 0 {
                    scattered |= qi.scattered_rx;
                    qi.queue_state
                } else {
                    1
                }
            })
            .collect();
        let txq_state: Vec<u8> = (0..info.nb_tx_queues)
            .map(|q| {
                // SAFETY: all-zero is a valid `rte_eth_txq_info` to be filled.
                let mut qi: sys::rte_eth_txq_info = unsafe { std::mem::zeroed() };
                // SAFETY: `q` < nb_tx_queues; `qi` is a valid out-pointer.
                if unsafe { sys::rte_eth_tx_queue_info_get(id, q, &mut qi) } == 0 {
                    qi.queue_state
                } else {
                    1
                }
            })
            .collect();
        let dev_flags = if info.dev_flags.is_null() {
            0
        } else {
            // SAFETY: `dev_flags` points into the ethdev's shared data,
            // which lives as long as the port (the EAL outlives `self`).
            unsafe { *info.dev_flags }
        };
        let (rx_off, tx_off, rss_hf) = if conf_ok {
            (
                conf.rxmode.offloads,
                conf.txmode.offloads,
                conf.rx_adv_conf.rss_conf.rss_hf,
            )
        } else {
            (0, 0, 0)
        };
        Some(json!({
            "name": name,
            "state": 1,
            "nb_rx_queues": info.nb_rx_queues,
            "nb_tx_queues": info.nb_tx_queues,
            "port_id": port,
            "mtu": mtu,
            "rx_mbuf_size_min": room,
            "mac_addr": mac_upper(mac.addr_bytes),
            "promiscuous": promisc,
            "scattered_rx": scattered,
            "all_multicast": allmulti,
            "dev_started": 1,
            "lro": u8::from(rx_off & RX_OFFLOAD_TCP_LRO != 0),
            "dev_configured": 1,
            "rxq_state": rxq_state,
            "txq_state": txq_state,
            "numa_node": numa,
            "dev_flags": dev_flags,
            "rx_offloads": rx_off,
            "tx_offloads": tx_off,
            "ethdev_rss_hf": rss_hf,
        }))
    }

    fn link_status(&self, port: PortId) -> Option<Value> {
        let id = self.id(port)?;
        // SAFETY: all-zero is a valid `rte_eth_link`.
        let mut link: sys::rte_eth_link = unsafe { std::mem::zeroed() };
        // SAFETY: the port exists; `link` is a valid out-pointer.
        if unsafe { sys::rte_eth_link_get_nowait(id, &mut link) } != 0 {
            return None;
        }
        Some(crate::control::ethdev::link_json(
            link.link_status() != 0,
            link.link_speed,
            u32::from(link.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        ))
    }

    fn eal_params(&self) -> Vec<String> {
        super::eal_args()
    }
}
