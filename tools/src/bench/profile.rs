//! Traffic profiles: what `cnfwd-bench` sends, read from TOML.
//!
//! A profile names every property of the offered traffic; everything has a
//! default except what only the user can know. The format (all tables
//! optional):
//!
//! ```toml
//! name = "ipv4-udp-64"          # shown in reports
//!
//! [frames]
//! sizes = [64]                  # frame sizes in bytes *with* the 4-byte FCS
//!                               # (RFC 2544: "64-byte frames" are 60 on the
//!                               # wire without FCS); sent in turn, or
//! # sizes = "imix"              # IMIX 64/594/1518 in 7:4:1
//! vlan = 100                    # optional 802.1Q tag (VLAN id 1..=4094)
//!
//! [flows]
//! count = 1024                  # flows (distinct 5-tuples), 1..=16,777,215
//! ip = "ipv4"                   # or "ipv6"
//! l4 = "udp"                    # or "tcp" (segments with ACK set)
//! src = "10.1.0.2/32"           # source addresses: the hosts of this prefix
//! dst = "10.3.0.0/16"           # destinations: the hosts of this prefix, or
//! # routes = "routes.txt"       # one prefix per line (".xz" read too; text
//!                               # after the prefix ignored): a random host of
//!                               # each route, in turn
//! src_port = 10000              # first source port
//! dst_port = 9
//!
//! [traffic]
//! rate = "max"                  # or packets per second (fixed rate)
//! duration = 10.0               # seconds (a single `run`)
//! burst = 32                    # packets handed to the port per call
//!
//! [search]                      # the NDR/PDR search (MLRsearch-like)
//! trial_duration = 1.0          # seconds per trial (CSIT: 1 s)
//! width = 0.005                 # relative width of the final interval
//! ndr_loss = 0.0                # loss ratio allowed at the NDR
//! pdr_loss = 0.005              # loss ratio allowed at the PDR (0.5 %)
//! min_rate = 1000               # pps: below this the search gives up
//! max_rate = 1000000            # pps: the first trial's rate
//! latency_duration = 1.0        # seconds per latency trial (10/50/90 % PDR)
//! generator_lag = 0.005         # s: a lossy trial whose generator fell this
//!                               # far behind its schedule is run again
//! attempts = 3                  # at most this many runs of such a trial
//! ```
//!
//! Every packet carries a [`crate::bench::stamp`] (flow, per-flow sequence
//! number, send time) at the start of its L4 payload, so frame sizes must
//! leave room for it: [`Profile::min_size`].
//!
//! [`Profile::parse`] rejects anything it does not understand with a
//! [`ProfileError`] naming the field (`flows.count`, `frames.sizes[2]`,
//! ...): unknown keys, wrong types, values out of range.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;
use toml::{Table, Value};

use super::stamp::STAMP_LEN;

/// The frame sizes of IMIX (with FCS), and how many of each in a cycle.
pub const IMIX: [(usize, usize); 3] = [(64, 7), (594, 4), (1518, 1)];
/// Largest frame size accepted (with FCS): a 9000-byte IP packet.
pub const MAX_SIZE: usize = 9018;
/// Bytes of FCS counted in a frame size but not handed to the port.
pub const FCS: usize = 4;
/// Most flows: the stamp's flow field has 24 bits.
pub const MAX_FLOWS: usize = (1 << 24) - 1;

/// A profile field that is missing, of the wrong type or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The text is not TOML.
    #[error("{file}: not TOML: {message}")]
    Syntax {
        /// Where the text came from.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A field has a bad value; `field` is its dotted path.
    #[error("{file}: {field}: {reason}")]
    Field {
        /// Where the text came from.
        file: String,
        /// Dotted path of the field (`flows.count`, `frames.sizes[1]`).
        field: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A file the profile names cannot be read.
    #[error("{file}: {field}: cannot read {path}: {reason}")]
    Read {
        /// Where the profile came from.
        file: String,
        /// The field naming the file.
        field: String,
        /// The path.
        path: String,
        /// The error.
        reason: String,
    },
}

/// IPv4 or IPv6 packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    /// IPv4, 20-byte header.
    Ipv4,
    /// IPv6, 40-byte header.
    Ipv6,
}

/// UDP datagrams or TCP segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum L4 {
    /// UDP, 8-byte header.
    Udp,
    /// TCP, 20-byte header, ACK set.
    Tcp,
}

/// Where flows' destinations come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Destinations {
    /// The host addresses of a prefix, in order.
    Prefix(IpNet),
    /// One random host (fixed seed) of each route, in turn.
    Routes(Vec<IpNet>),
}

/// Offered rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rate {
    /// As fast as the port takes packets.
    Max,
    /// A fixed packets-per-second rate.
    Pps(f64),
}

/// The NDR/PDR search settings (`[search]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchSettings {
    /// Length of each search trial.
    pub trial_duration: Duration,
    /// Relative width of the final [lower, upper) interval.
    pub width: f64,
    /// Loss ratio allowed at the NDR (0: none).
    pub ndr_loss: f64,
    /// Loss ratio allowed at the PDR.
    pub pdr_loss: f64,
    /// Lowest rate tried (pps).
    pub min_rate: f64,
    /// Rate of the first trial (pps).
    pub max_rate: f64,
    /// Length of each latency trial.
    pub latency_duration: Duration,
    /// A lossy trial whose generator was this late is repeated.
    pub generator_lag: Duration,
    /// Most runs of one trial.
    pub attempts: u32,
}

/// A validated traffic profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Name shown in reports.
    pub name: String,
    /// Frame sizes with FCS, sent in this order, cycled.
    pub sizes: Vec<usize>,
    /// 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// Number of flows.
    pub flows: usize,
    /// IPv4 or IPv6.
    pub ip: IpVersion,
    /// UDP or TCP.
    pub l4: L4,
    /// Source addresses (hosts of this prefix).
    pub src: IpNet,
    /// Destinations.
    #[serde(skip)]
    pub dst: Destinations,
    /// First source port.
    pub src_port: u16,
    /// Destination port (also how the receiver recognises the traffic).
    pub dst_port: u16,
    /// Offered rate of a single run.
    pub rate: Rate,
    /// Length of a single run.
    pub duration: Duration,
    /// Packets per send call.
    pub burst: usize,
    /// Search settings.
    pub search: SearchSettings,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "default".into(),
            sizes: vec![64],
            vlan: None,
            flows: 1024,
            ip: IpVersion::Ipv4,
            l4: L4::Udp,
            src: "10.1.0.2/32".parse().expect("literal"),
            dst: Destinations::Prefix("10.3.0.0/16".parse().expect("literal")),
            src_port: 10_000,
            dst_port: 9,
            rate: Rate::Max,
            duration: Duration::from_secs(10),
            burst: 32,
            search: SearchSettings {
                trial_duration: Duration::from_secs(1),
                width: 0.005,
                ndr_loss: 0.0,
                pdr_loss: 0.005,
                min_rate: 1000.0,
                max_rate: 1_000_000.0,
                latency_duration: Duration::from_secs(1),
                generator_lag: Duration::from_millis(5),
                attempts: 3,
            },
        }
    }
}

/// Reads TOML fields by dotted path, remembering which were used.
struct Reader<'a> {
    file: &'a str,
}

impl Reader<'_> {
    fn err(&self, field: &str, reason: impl Into<String>) -> ProfileError {
        ProfileError::Field {
            file: self.file.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    fn table<'t>(&self, root: &'t Table, key: &str) -> Result<Option<&'t Table>, ProfileError> {
        match root.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(v) => Err(self.err(key, format!("must be a table, not {}", v.type_str()))),
        }
    }

    fn only(&self, t: &Table, prefix: &str, known: &[&str]) -> Result<(), ProfileError> {
        for k in t.keys() {
            if !known.contains(&k.as_str()) {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                return Err(self.err(
                    &path,
                    format!("unknown field (known here: {})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn int(&self, v: &Value, field: &str, lo: i64, hi: i64) -> Result<i64, ProfileError> {
        match v {
            Value::Integer(i) if (lo..=hi).contains(i) => Ok(*i),
            Value::Integer(i) => Err(self.err(field, format!("{i} is outside {lo}..={hi}"))),
            _ => Err(self.err(field, format!("must be an integer, not {}", v.type_str()))),
        }
    }

    fn float(&self, v: &Value, field: &str, lo: f64, hi: f64) -> Result<f64, ProfileError> {
        let x = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            _ => {
                return Err(self.err(field, format!("must be a number, not {}", v.type_str())));
            }
        };
        if x.is_finite() && (lo..=hi).contains(&x) {
            Ok(x)
        } else {
            Err(self.err(field, format!("{x} is outside {lo}..={hi}")))
        }
    }

    fn str<'v>(&self, v: &'v Value, field: &str) -> Result<&'v str, ProfileError> {
        v.as_str()
            .ok_or_else(|| self.err(field, format!("must be a string, not {}", v.type_str())))
    }

    fn secs(&self, v: &Value, field: &str) -> Result<Duration, ProfileError> {
        Ok(Duration::from_secs_f64(
            self.float(v, field, 0.01, 86_400.0)?,
        ))
    }
}

impl Profile {
    /// Parses and validates profile `text`; `file` names it in errors and
    /// is the directory `flows.routes` is relative to.
    pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let root: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ProfileError::Syntax {
                file: file.to_owned(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
        let r = Reader { file };
        let mut p = Profile::default();
        r.only(&root, "", &["name", "frames", "flows", "traffic", "search"])?;
        if let Some(v) = root.get("name") {
            p.name = r.str(v, "name")?.to_owned();
        }
        if let Some(t) = r.table(&root, "frames")? {
            r.only(t, "frames", &["sizes", "vlan"])?;
            if let Some(v) = t.get("sizes") {
                p.sizes =
                    match v {
                        Value::String(s) if s == "imix" => IMIX
                            .iter()
                            .flat_map(|&(size, n)| std::iter::repeat_n(size, n))
                            .collect(),
                        Value::Array(a) if !a.is_empty() => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| {
                                r.int(x, &format!("frames.sizes[{i}]"), 1, MAX_SIZE as i64)
                                    .map(|n| n as usize)
                            })
                            .collect::<Result<_, _>>()?,
                        _ => return Err(r.err(
                            "frames.sizes",
                            "must be a non-empty list of frame sizes (bytes with FCS) or \"imix\"",
                        )),
                    };
            }
            if let Some(v) = t.get("vlan") {
                p.vlan = Some(r.int(v, "frames.vlan", 1, 4094)? as u16);
            }
        }
        let mut dst_field = "flows.dst";
        if let Some(t) = r.table(&root, "flows")? {
            r.only(
                t,
                "flows",
                &[
                    "count", "ip", "l4", "src", "dst", "routes", "src_port", "dst_port",
                ],
            )?;
            if let Some(v) = t.get("count") {
                p.flows = r.int(v, "flows.count", 1, MAX_FLOWS as i64)? as usize;
            }
            if let Some(v) = t.get("ip") {
                p.ip = match r.str(v, "flows.ip")? {
                    "ipv4" => IpVersion::Ipv4,
                    "ipv6" => IpVersion::Ipv6,
                    o => {
                        return Err(
                            r.err("flows.ip", format!("{o:?}: must be \"ipv4\" or \"ipv6\""))
                        )
                    }
                };
            }
            if let Some(v) = t.get("l4") {
                p.l4 = match r.str(v, "flows.l4")? {
                    "udp" => L4::Udp,
                    "tcp" => L4::Tcp,
                    o => {
                        return Err(r.err("flows.l4", format!("{o:?}: must be \"udp\" or \"tcp\"")))
                    }
                };
            }
            let default_v6 = p.ip == IpVersion::Ipv6;
            if default_v6 {
                p.src = "2001:db8:1::2/128".parse().expect("literal");
                p.dst = Destinations::Prefix("2001:db8:3::/112".parse().expect("literal"));
            }
            if let Some(v) = t.get("src") {
                p.src = r
                    .str(v, "flows.src")?
                    .parse()
                    .map_err(|e| r.err("flows.src", format!("not a prefix: {e}")))?;
            }
            match (t.get("dst"), t.get("routes")) {
                (Some(_), Some(_)) => {
                    return Err(r.err(
                        "flows.routes",
                        "give either flows.dst or flows.routes, not both",
                    ))
                }
                (Some(v), None) => {
                    p.dst = Destinations::Prefix(
                        r.str(v, "flows.dst")?
                            .parse()
                            .map_err(|e| r.err("flows.dst", format!("not a prefix: {e}")))?,
                    );
                }
                (None, Some(v)) => {
                    dst_field = "flows.routes";
                    let name = r.str(v, "flows.routes")?;
                    let base = Path::new(file).parent().unwrap_or(Path::new("."));
                    p.dst = Destinations::Routes(read_routes(&base.join(name), file)?);
                }
                (None, None) => {}
            }
            if let Some(v) = t.get("src_port") {
                p.src_port = r.int(v, "flows.src_port", 1, 65535)? as u16;
            }
            if let Some(v) = t.get("dst_port") {
                p.dst_port = r.int(v, "flows.dst_port", 1, 65535)? as u16;
            }
        }
        if let Some(t) = r.table(&root, "traffic")? {
            r.only(t, "traffic", &["rate", "duration", "burst"])?;
            if let Some(v) = t.get("rate") {
                p.rate = match v {
                    Value::String(s) if s == "max" => Rate::Max,
                    Value::String(_) => {
                        return Err(r.err("traffic.rate", "must be \"max\" or packets per second"))
                    }
                    v => Rate::Pps(r.float(v, "traffic.rate", 1.0, 1e9)?),
                };
            }
            if let Some(v) = t.get("duration") {
                p.duration = r.secs(v, "traffic.duration")?;
            }
            if let Some(v) = t.get("burst") {
                p.burst = r.int(v, "traffic.burst", 1, 1024)? as usize;
            }
        }
        if let Some(t) = r.table(&root, "search")? {
            r.only(
                t,
                "search",
                &[
                    "trial_duration",
                    "width",
                    "ndr_loss",
                    "pdr_loss",
                    "min_rate",
                    "max_rate",
                    "latency_duration",
                    "generator_lag",
                    "attempts",
                ],
            )?;
            let s = &mut p.search;
            if let Some(v) = t.get("trial_duration") {
                s.trial_duration = r.secs(v, "search.trial_duration")?;
            }
            if let Some(v) = t.get("width") {
                s.width = r.float(v, "search.width", 0.0001, 0.5)?;
            }
            if let Some(v) = t.get("ndr_loss") {
                s.ndr_loss = r.float(v, "search.ndr_loss", 0.0, 0.5)?;
            }
            if let Some(v) = t.get("pdr_loss") {
                s.pdr_loss = r.float(v, "search.pdr_loss", 0.0, 0.5)?;
            }
            if let Some(v) = t.get("min_rate") {
                s.min_rate = r.float(v, "search.min_rate", 1.0, 1e9)?;
            }
            if let Some(v) = t.get("max_rate") {
                s.max_rate = r.float(v, "search.max_rate", 1.0, 1e9)?;
            }
            if let Some(v) = t.get("latency_duration") {
                s.latency_duration = r.secs(v, "search.latency_duration")?;
            }
            if let Some(v) = t.get("generator_lag") {
                s.generator_lag =
                    Duration::from_secs_f64(r.float(v, "search.generator_lag", 0.0, 10.0)?);
            }
            if let Some(v) = t.get("attempts") {
                s.attempts = r.int(v, "search.attempts", 1, 10)? as u32;
            }
            if s.pdr_loss < s.ndr_loss {
                return Err(r.err("search.pdr_loss", "must be at least search.ndr_loss"));
            }
            if s.max_rate <= s.min_rate {
                return Err(r.err("search.max_rate", "must be above search.min_rate"));
            }
        }
        p.check_addresses(&r, dst_field)?;
        let min = p.min_size();
        for (i, &size) in p.sizes.iter().enumerate() {
            if size < min {
                let field = if root
                    .get("frames")
                    .and_then(|f| f.get("sizes"))
                    .is_some_and(Value::is_array)
                {
                    format!("frames.sizes[{i}]")
                } else {
                    "frames.sizes".to_owned()
                };
                return Err(r.err(
                    &field,
                    format!(
                        "{size} bytes is too small for {:?}/{:?}{} with the {STAMP_LEN}-byte stamp: at least {min}",
                        p.ip,
                        p.l4,
                        if p.vlan.is_some() { " with a VLAN tag" } else { "" }
                    ),
                ));
            }
        }
        Ok(p)
    }

    /// Reads and parses the profile file at `path`.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            file: file.clone(),
            field: "(profile)".into(),
            path: file.clone(),
            reason: e.to_string(),
        })?;
        Profile::parse(&text, &file)
    }

    fn check_addresses(&self, r: &Reader<'_>, dst_field: &str) -> Result<(), ProfileError> {
        let v6 = self.ip == IpVersion::Ipv6;
        if matches!(self.src, IpNet::V6(_)) != v6 {
            return Err(r.err(
                "flows.src",
                format!("is not an {:?} prefix (flows.ip)", self.ip),
            ));
        }
        match &self.dst {
            Destinations::Prefix(n) if matches!(n, IpNet::V6(_)) != v6 => Err(r.err(
                dst_field,
                format!("is not an {:?} prefix (flows.ip)", self.ip),
            )),
            Destinations::Routes(v) if v.is_empty() => {
                Err(r.err(dst_field, "the file has no routes"))
            }
            Destinations::Routes(v) => match v.iter().find(|n| matches!(n, IpNet::V6(_)) != v6) {
                Some(n) => Err(r.err(
                    dst_field,
                    format!("route {n} is not {:?} (flows.ip)", self.ip),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Bytes of headers before the stamp: Ethernet, tag, IP, L4.
    pub fn header_len(&self) -> usize {
        14 + if self.vlan.is_some() { 4 } else { 0 }
            + match self.ip {
                IpVersion::Ipv4 => 20,
                IpVersion::Ipv6 => 40,
            }
            + match self.l4 {
                L4::Udp => 8,
                L4::Tcp => 20,
            }
    }

    /// Smallest frame size (with FCS) that holds the headers and the stamp.
    pub fn min_size(&self) -> usize {
        (self.header_len() + STAMP_LEN + FCS).max(64)
    }

    /// Mean frame size with FCS over one cycle of `sizes`.
    pub fn mean_size(&self) -> f64 {
        self.sizes.iter().sum::<usize>() as f64 / self.sizes.len() as f64
    }

    /// The profile's sizes as text (`64`, `64,1518`, `imix`).
    pub fn sizes_label(&self) -> String {
        let imix: Vec<usize> = IMIX
            .iter()
            .flat_map(|&(size, n)| std::iter::repeat_n(size, n))
            .collect();
        if self.sizes == imix {
            "imix".into()
        } else {
            self.sizes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// Reads a route table: one prefix per line (first field), `#` comments,
/// `.xz` files decompressed.
fn read_routes(path: &PathBuf, file: &str) -> Result<Vec<IpNet>, ProfileError> {
    let read_err = |reason: String| ProfileError::Read {
        file: file.to_owned(),
        field: "flows.routes".into(),
        path: path.display().to_string(),
        reason,
    };
    let raw = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
    let text = if path.extension().is_some_and(|e| e == "xz") {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out)
            .map_err(|e| read_err(format!("{e:?}")))?;
        out
    } else {
        raw
    };
    let text = String::from_utf8(text).map_err(|e| read_err(e.to_string()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(first) = line
            .split('#')
            .next()
            .and_then(|l| l.split_whitespace().next())
        else {
            continue;
        };
        let net: IpNet = first.parse().map_err(|e| ProfileError::Field {
            file: file.to_owned(),
            field: "flows.routes".into(),
            reason: format!(
                "{} line {}: {first:?} is not a prefix: {e}",
                path.display(),
                n + 1
            ),
        })?;
        out.push(net);
    }
    Ok(out)
}

/// Source address `i` of the profile's source prefix (cycled over its hosts).
pub fn nth_host(net: IpNet, i: u64) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let (first, count) = v4_hosts(n);
            IpAddr::V4((first + (i % count) as u32).into())
        }
        IpNet::V6(n) => {
            let base = u128::from(n.network());
            let span: u128 = if n.prefix_len() == 128 {
                1
            } else {
                (1u128 << (128 - n.prefix_len()).min(64)) - 1
            };
            let off = if n.prefix_len() == 128 {
                0
            } else {
                1 + (i as u128 % span)
            };
            IpAddr::V6((base + off).into())
        }
    }
}

/// Number of host addresses [`nth_host`] cycles over.
pub fn host_count(net: IpNet) -> u64 {
    match net {
        IpNet::V4(n) => v4_hosts(n).1,
        IpNet::V6(n) if n.prefix_len() == 128 => 1,
        IpNet::V6(n) => (1u64 << (128 - n.prefix_len()).min(63)) - 1,
    }
}

fn v4_hosts(n: ipnet::Ipv4Net) -> (u32, u64) {
    let net = u32::from(n.network());
    match n.prefix_len() {
        32 => (net, 1),
        31 => (net, 2),
        l => (net + 1, (1u64 << (32 - l)) - 2),
    }
}
