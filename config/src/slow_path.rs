//! `[slow_path]`: ARP/ND, neighbour resolution and ICMP error settings
//! (`docs/slow-path.md` says what each one does). Every field is optional;
//! the defaults follow Linux and VPP where they have one.

use serde::{Deserialize, Serialize};

/// The slow path's knobs, validated by [`SlowPathSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlowPathSettings {
    /// Send a gratuitous ARP and an unsolicited NA for every gateway address
    /// when forwarding starts.
    pub announce: bool,
    /// A confirmed neighbour is used this long (seconds), then re-probed
    /// (Linux: base_reachable_time 30 s).
    pub neighbor_reachable_s: u32,
    /// Between two requests for one address (milliseconds; Linux:
    /// retrans_time 1 s).
    pub neighbor_retry_ms: u32,
    /// Requests per resolution, and unanswered probes before a learned
    /// entry is removed (Linux: mcast_solicit / ucast_solicit 3).
    pub neighbor_tries: u32,
    /// Packets held per unresolved (address, network), per worker.
    pub neighbor_hold_packets: u32,
    /// Packets held per worker over all unresolved addresses.
    pub neighbor_hold_total: u32,
    /// Learned neighbour entries per L3 network.
    pub neighbor_table_size: u32,
    /// ICMP errors per second per worker (Linux: icmp_msgs_per_sec 1000).
    pub icmp_rate_per_s: u32,
    /// Depth of the per-worker ICMP bucket (Linux: icmp_msgs_burst 50).
    pub icmp_burst: u32,
    /// Per destination: one ICMP error per this many milliseconds (Linux:
    /// icmp_ratelimit 1000).
    pub icmp_target_interval_ms: u32,
    /// Depth of the per-destination bucket (Linux: XRLIM_BURST_FACTOR 6).
    pub icmp_target_burst: u32,
}

impl Default for SlowPathSettings {
    fn default() -> Self {
        Self {
            announce: true,
            neighbor_reachable_s: 30,
            neighbor_retry_ms: 1000,
            neighbor_tries: 3,
            neighbor_hold_packets: 64,
            neighbor_hold_total: 1024,
            neighbor_table_size: 4096,
            icmp_rate_per_s: 1000,
            icmp_burst: 50,
            icmp_target_interval_ms: 1000,
            icmp_target_burst: 6,
        }
    }
}

/// A [`SlowPathSettings`] field out of range: (field, why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct SlowPathError {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub why: &'static str,
}

impl SlowPathSettings {
    /// Checks every field's range; the first bad field is returned.
    pub fn validate(&self) -> Result<(), SlowPathError> {
        let checks: [(&'static str, u32, u32, u32); 10] = [
            ("neighbor_reachable_s", self.neighbor_reachable_s, 1, 86_400),
            ("neighbor_retry_ms", self.neighbor_retry_ms, 1, 60_000),
            ("neighbor_tries", self.neighbor_tries, 1, 16),
            ("neighbor_hold_packets", self.neighbor_hold_packets, 0, 4096),
            ("neighbor_hold_total", self.neighbor_hold_total, 0, 65_536),
            (
                "neighbor_table_size",
                self.neighbor_table_size,
                1,
                1_000_000,
            ),
            ("icmp_rate_per_s", self.icmp_rate_per_s, 0, 1_000_000),
            ("icmp_burst", self.icmp_burst, 0, 1_000_000),
            (
                "icmp_target_interval_ms",
                self.icmp_target_interval_ms,
                0,
                3_600_000,
            ),
            ("icmp_target_burst", self.icmp_target_burst, 0, 1000),
        ];
        for (field, v, lo, hi) in checks {
            if v < lo || v > hi {
                return Err(SlowPathError {
                    field,
                    why: range_text(lo, hi),
                });
            }
        }
        Ok(())
    }
}

fn range_text(lo: u32, hi: u32) -> &'static str {
    match (lo, hi) {
        (1, 86_400) => "must be 1..=86400",
        (1, 60_000) => "must be 1..=60000",
        (1, 16) => "must be 1..=16",
        (0, 4096) => "must be 0..=4096",
        (0, 65_536) => "must be 0..=65536",
        (1, 1_000_000) => "must be 1..=1000000",
        (0, 1_000_000) => "must be 0..=1000000",
        (0, 3_600_000) => "must be 0..=3600000",
        _ => "must be 0..=1000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_checked() {
        assert_eq!(SlowPathSettings::default().validate(), Ok(()));
        let bad = SlowPathSettings {
            neighbor_tries: 0,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "neighbor_tries");
    }
}
