//! The passes over the settings that name nothing else: `engine`,
//! `af_packet`, `dpdk`, `control`, `metrics` and `slow_path`.

use std::collections::HashSet;
use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use super::{q, Errors, BURST_MAX};
use crate::model::{AfPacket, Config, Control, Dpdk, Engine, IdleMode, Metrics};
use crate::resolved::{ResolvedEngine, ResolvedIdle};
use crate::slow_path::SlowPathSettings;

/// `engine.burst_size`, checked (returned even when out of range).
pub(super) fn burst(errs: &mut Errors, config: &Config) -> u32 {
    let burst = config.engine.burst_size;
    check_range(errs, "engine.burst_size", burst, 1..=BURST_MAX);

    burst
}

/// Most worker threads one cnfwd runs.
const WORKERS_MAX: u32 = 128;

/// The `engine` section: workers, cores, idle policy, stall timeout.
pub(super) fn engine(errs: &mut Errors, e: &Engine) -> ResolvedEngine {
    let workers = match (e.workers, e.cores.len()) {
        (Some(w), n) if n > 0 && w as usize != n => {
            errs.push(
                "engine.workers",
                w.to_string(),
                format!("engine.cores lists {n} cores: one worker runs on each, so workers must be {n} (or left out)"),
            );
            n
        }
        (Some(w), _) => {
            check_range(errs, "engine.workers", w, 1..=WORKERS_MAX);
            w as usize
        }
        (None, 0) => 1,
        (None, n) => n,
    };
    let mut seen = HashSet::new();
    for (i, c) in e.cores.iter().enumerate() {
        if !seen.insert(c) {
            errs.push(
                format!("engine.cores[{i}]"),
                c.to_string(),
                "listed twice: two workers on one core would take turns",
            );
        }
    }
    let idle = match e.idle {
        IdleMode::Busy => ResolvedIdle::Busy,
        IdleMode::Adaptive => {
            if e.idle_empty_polls == 0 {
                errs.push("engine.idle_empty_polls", "0", "must be at least 1");
            }
            check_range(errs, "engine.idle_sleep_us", e.idle_sleep_us, 1..=100_000);
            ResolvedIdle::Adaptive {
                empty_polls: e.idle_empty_polls,
                sleep_us: e.idle_sleep_us,
            }
        }
    };
    // Above the longest adaptive sleep (100 ms) with room to spare, so a
    // sleeping worker never looks stalled.
    check_range(
        errs,
        "engine.stall_timeout_ms",
        e.stall_timeout_ms,
        200..=3_600_000,
    );
    ResolvedEngine {
        workers,
        cores: e.cores.clone(),
        idle,
        stall_timeout_ms: e.stall_timeout_ms,
    }
}

/// The `af_packet` ring geometry.
pub(super) fn af_packet(errs: &mut Errors, ring: &AfPacket) {
    if ring.block_size < 4096 || !ring.block_size.is_multiple_of(4096) || ring.block_size > 1 << 26
    {
        errs.push(
            "af_packet.block_size",
            ring.block_size.to_string(),
            "must be a multiple of 4096 between 4096 and 64 MiB",
        );
    }
    check_range(errs, "af_packet.block_count", ring.block_count, 1..=65_536);
    check_range(
        errs,
        "af_packet.block_timeout_ms",
        ring.block_timeout_ms,
        1..=1000,
    );
}

/// `dpdk.mbufs`, when given.
pub(super) fn dpdk(errs: &mut Errors, dpdk: &Dpdk) {
    if let Some(n) = dpdk.mbufs {
        check_range(errs, "dpdk.mbufs", n, 256..=1 << 24);
    }
}

/// The `control` socket's settings.
pub(super) fn control(errs: &mut Errors, control: &Control) {
    if control.enabled && !control.socket.starts_with('/') {
        errs.push(
            "control.socket",
            q(&control.socket),
            "must be an absolute path",
        );
    }
    check_range(errs, "control.max_clients", control.max_clients, 1..=1024);
    for (field, secs) in [
        (
            "control.client_idle_timeout_s",
            control.client_idle_timeout_s,
        ),
        (
            "control.client_stall_timeout_s",
            control.client_stall_timeout_s,
        ),
    ] {
        if secs > 86_400 {
            errs.push(
                field,
                secs.to_string(),
                "must be in 0..=86400 (seconds; 0: never)",
            );
        }
    }
    for (field, g) in [
        ("control.write_group", &control.write_group),
        ("control.read_group", &control.read_group),
    ] {
        if let Some(g) = g {
            if g.is_empty() || g.contains(['/', ':', ' ']) {
                errs.push(field, q(g), "must be a group name or a numeric gid");
            }
        }
    }
    if let Some(p) = &control.dpdk_telemetry_prefix {
        if p.is_empty() || p.contains('/') {
            errs.push(
                "control.dpdk_telemetry_prefix",
                q(p),
                "must be a DPDK file prefix (no '/')",
            );
        }
    }
}

/// `metrics.listen`, parsed.
pub(super) fn metrics(errs: &mut Errors, metrics: &Metrics) -> Option<SocketAddr> {
    match &metrics.listen {
        None => None,
        Some(l) => match l.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.push(
                    "metrics.listen",
                    q(l),
                    "must be address:port, e.g. 127.0.0.1:9464",
                );
                None
            }
        },
    }
}

/// The `slow_path` settings.
pub(super) fn slow_path(errs: &mut Errors, slow_path: &SlowPathSettings) {
    if let Err(e) = slow_path.validate() {
        let value = toml::Value::try_from(slow_path)
            .ok()
            .and_then(|v| v.get(e.field).map(|v| v.to_string()))
            .unwrap_or_default();
        errs.push(format!("slow_path.{}", e.field), value, e.why.to_string());
    }
}

/// Pushes "must be in LO..=HI" for `field` when `value` is outside `range`.
fn check_range<T: PartialOrd + Display>(
    errs: &mut Errors,
    field: &str,
    value: T,
    range: RangeInclusive<T>,
) {
    if !range.contains(&value) {
        errs.push(
            field,
            value.to_string(),
            format!("must be in {}..={}", range.start(), range.end()),
        );
    }
}
