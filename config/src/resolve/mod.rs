//! Validation: checks every rule of the model and resolves names to indices.
//!
//! All violations are collected, not just the first, each naming the field
//! path and the value. A configuration that passes is a [`Resolved`].
//!
//! [`resolve_with`] runs one pass per resource, in a fixed order, each
//! pushing its violations into one [`Errors`] collector (so the errors come
//! in the same order as the passes) and handing what it resolved to the
//! later passes: [`settings`] (engine, `af_packet`, `dpdk`, `control`,
//! `metrics`, `slow_path`), [`networks`] (VRF names, L2 and L3 networks,
//! trunked networks), [`ports`] (backends, attachments, static MACs),
//! [`routes`] (each VRF's table) and [`csn`] (the cloud services network).

mod csn;
mod networks;
mod ports;
mod routes;
mod settings;

use ipnet::IpNet;

use crate::attachment::Pod;
use crate::error::FieldError;
use crate::model::Config;
use crate::resolved::*;

/// Smallest MTU the platform accepts.
pub const MTU_MIN: u32 = 64;
/// Largest MTU the platform accepts.
pub const MTU_MAX: u32 = 9200;
/// Largest burst a worker takes from a port.
pub const BURST_MAX: u32 = 256;

/// The violations found so far, in the order the passes found them.
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(
        &mut self,
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, value, reason));
    }
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

/// Validates `config` and resolves it. On failure returns every violation.
/// Ports naming a network attachment or resource resolve in the process's
/// pod ([`crate::attachment::process_pod`], read when first needed).
pub fn resolve(config: &Config) -> Result<Resolved, Vec<FieldError>> {
    resolve_with(config, &|| crate::attachment::process_pod())
}

/// [`resolve`] in the pod given (tests, `generate-config`).
pub fn resolve_in(config: &Config, pod: &Pod) -> Result<Resolved, Vec<FieldError>> {
    resolve_with(config, &|| pod)
}

/// [`resolve`] with the pod from `pod` (called only when a port names a
/// pod attachment or resource). The passes run in this order, and so do
/// their errors; each pass reads only what the configuration and the
/// passes before it resolved.
pub(crate) fn resolve_with<'p>(
    config: &Config,
    pod: &dyn Fn() -> &'p Pod,
) -> Result<Resolved, Vec<FieldError>> {
    let mut errs = Errors(Vec::new());
    let burst = settings::burst(&mut errs, config);
    let engine = settings::engine(&mut errs, &config.engine);
    settings::af_packet(&mut errs, &config.af_packet);
    settings::dpdk(&mut errs, &config.dpdk);
    settings::control(&mut errs, &config.control);
    let metrics_listen = settings::metrics(&mut errs, &config.metrics);
    let vrf_ids = networks::vrf_names(&mut errs, config);
    let mut nets = networks::networks(&mut errs, config, &vrf_ids);
    let trunks = networks::trunks(&mut errs, config, &vrf_ids, &nets.list);
    let ports = ports::ports(&mut errs, config, pod, &mut nets, &trunks);
    ports::static_macs(&mut errs, config, &ports, &mut nets.list);
    ports::one_port_per_l3_network(&mut errs, &nets, &ports);
    let vrfs = routes::vrfs(&mut errs, config, &nets);
    let csn = csn::csn(&mut errs, config, &nets);
    settings::slow_path(&mut errs, &config.slow_path);

    if errs.0.is_empty() {
        Ok(Resolved {
            burst_size: burst as usize,
            ports,
            networks: nets.list,
            vrfs,
            csn,
            dpdk_eal_args: config.dpdk.eal_args.clone(),
            dpdk_mbufs: config.dpdk.mbufs,
            engine,
            af_packet: config.af_packet.clone(),
            control: config.control.clone(),
            metrics_listen,
            slow_path: config.slow_path.clone(),
        })
    } else {
        Err(errs.0)
    }
}

fn check_name(errs: &mut Errors, field: &str, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        errs.push(
            field,
            q(name),
            "names are 1..=64 characters of letters, digits, '-', '_' and '.'",
        );
    }
}

fn check_vlan(errs: &mut Errors, field: &str, vlan: u32) -> u16 {
    if (1..=4094).contains(&vlan) {
        vlan as u16
    } else {
        errs.push(field, vlan.to_string(), "VLAN id must be in 1..=4094");
        0
    }
}

fn check_mtu(errs: &mut Errors, field: &str, mtu: u32) {
    if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
        errs.push(
            field,
            mtu.to_string(),
            format!("MTU must be in {MTU_MIN}..={MTU_MAX}"),
        );
    }
}

fn check_prefix(errs: &mut Errors, field: &str, p: IpNet) {
    if p.trunc() != p {
        errs.push(
            field,
            p.to_string(),
            format!("host bits set; did you mean {}?", p.trunc()),
        );
    }
}
