//! Human-readable rendering of reply values.
//!
//! [`render_reply`] knows the shapes of cnfwd's own replies: tables lead
//! with their key column (`show routes`: the prefix; `show drops`: the
//! reason; `show neighbors`: the address) and then the columns a person
//! reads next, `trace show` prints one block per packet (like VPP's
//! `show trace`), `show config` prints TOML, `show stats` prints totals,
//! ports, networks and one table of drops by reason and where. Anything
//! else goes through [`render`]:
//!
//! - an array of objects: a table whose columns are the keys (union,
//!   `name` first, the rest in first-seen order);
//! - an object whose values are all objects: a table whose first column is
//!   the key; but when some of those values are themselves tables (objects
//!   of objects, arrays of objects), one titled section per key instead;
//! - any other object: aligned `key: value` lines, then a titled section
//!   per value that is a table;
//! - an array of scalars: one per line; a scalar: itself.
//!
//! A cell holding an object of scalars prints as `k=v k=v` (`-` when
//! empty), an array of scalars as `a,b`; `null` and a missing cell are
//! `-`. Columns of numbers are right-aligned. Output ends with a newline
//! unless empty.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The text for the reply `value` of socket command `command`.
pub fn render_reply(command: &str, value: &Value) -> String {
    let lead: &[&str] = match command {
        "/ports" => &[
            "name",
            "backend",
            "device",
            "link",
            "cnfwd_link",
            "mac",
            "mtu",
            "numa_node",
            "queues",
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "dropped",
        ],
        "/networks" => &[
            "name",
            "kind",
            "vlan",
            "vrf",
            "ipv4",
            "ipv6",
            "mtu",
            "ports",
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "dropped",
        ],
        "/vrfs" => &["name", "ipv4_routes", "ipv6_routes", "fib_bytes"],
        "/routes" => &["prefix", "kind", "next_hop", "network", "vrf"],
        "/neighbors" => &["ip", "mac", "network", "state", "age_s"],
        "/drops" => &["reason", "count", "kind", "meaning"],
        "/workers" => &[
            "id",
            "core",
            "rx_pps",
            "tx_pps",
            "idle_pct",
            "rx_packets",
            "tx_packets",
            "dropped",
            "snapshot",
        ],
        "/health" => &[
            "status",
            "live",
            "ready",
            "not_live",
            "not_ready",
            "workers",
            "workers_on_snapshot",
            "snapshot",
            "uptime_seconds",
        ],
        "/info" => &["version", "pid", "uptime_seconds"],
        "/trace/start" | "/trace/stop" => return trace_state(value),
        "/trace/show" => return trace(value),
        "/capture/start" | "/capture/stop" | "/capture/status" => {
            return super::capture::render(value)
        }
        "/config" => return config(value),
        "/stats" => return stats(value),
        _ => &[],
    };
    let mut out = String::new();
    render_into(&mut out, value, 0, lead);
    out
}

/// The text for `value`, whatever command answered it.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    render_into(&mut out, value, 0, &[]);
    out
}

fn render_into(out: &mut String, value: &Value, indent: usize, lead: &[&str]) {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let rows: Vec<&Map<String, Value>> =
                items.iter().filter_map(Value::as_object).collect();
            table(out, &pad, None, lead, rows.iter().map(|r| (None, *r)));
        }
        Value::Array(items) => {
            for v in items {
                out.push_str(&pad);
                out.push_str(&cell(v));
                out.push('\n');
            }
        }
        Value::Object(m) if !m.is_empty() && m.values().all(Value::is_object) => {
            if m.values().any(is_table) {
                for (k, v) in m {
                    let _ = writeln!(out, "{pad}{k}:");
                    render_into(out, v, indent + 2, lead);
                }
            } else {
                let rows = m
                    .iter()
                    .filter_map(|(k, v)| Some((Some(k.as_str()), v.as_object()?)));
                table(out, &pad, Some("name"), lead, rows);
            }
        }
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by_key(|(k, _)| lead.iter().position(|l| l == k).unwrap_or(lead.len()));
            let (sections, lines): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|(_, v)| is_table(v) || v.as_object().is_some_and(|o| !o.is_empty()));
            let width = lines.iter().map(|(k, _)| k.chars().count()).max();
            for (k, v) in lines {
                let w = width.unwrap_or(0) + 1;
                let key = format!("{k}:");
                out.push_str(format!("{pad}{key:<w$} {}", cell(v)).trim_end());
                out.push('\n');
            }
            for (k, v) in sections {
                let _ = writeln!(out, "{pad}{k}:");
                render_into(out, v, indent + 2, lead);
            }
        }
        v => {
            out.push_str(&pad);
            out.push_str(&cell(v));
            out.push('\n');
        }
    }
}

/// An object of objects or a non-empty array of objects.
fn is_table(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty() && m.values().all(Value::is_object),
        Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_object),
        _ => false,
    }
}

/// One cell: strings bare, `null` as `-`, other scalars as JSON, an object
/// of scalars as `k=v k=v`, an array of scalars as `a,b`, anything deeper
/// as compact JSON.
pub fn cell(v: &Value) -> String {
    let scalar = |v: &Value| !v.is_object() && !v.is_array();
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        Value::Object(m) if m.is_empty() => "-".to_string(),
        Value::Array(a) if a.is_empty() => "-".to_string(),
        Value::Object(m) if m.values().all(scalar) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Array(a) if a.iter().all(scalar) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        v => v.to_string(),
    }
}

/// A table: `key_column` (the object keys) first when given, then the
/// `lead` columns that occur, then the rest in first-seen order.
fn table<'a>(
    out: &mut String,
    pad: &str,
    key_column: Option<&str>,
    lead: &[&str],
    rows: impl Iterator<Item = (Option<&'a str>, &'a Map<String, Value>)>,
) {
    let rows: Vec<_> = rows.collect();
    let mut seen: Vec<&str> = Vec::new();
    for (_, r) in &rows {
        for k in r.keys() {
            if !seen.contains(&k.as_str()) {
                seen.push(k);
            }
        }
    }
    let lead: &[&str] = if lead.is_empty() {
        &["name", "id"]
    } else {
        lead
    };
    let mut columns: Vec<&str> = lead
        .iter()
        .copied()
        .filter(|c| seen.contains(c) && Some(*c) != key_column)
        .collect();
    columns.extend(seen.iter().copied().filter(|c| !lead.contains(c)));
    let mut header: Vec<String> = key_column.map(str::to_string).into_iter().collect();
    header.extend(columns.iter().map(|c| c.to_string()));
    // A column whose values are all numbers (or missing) is right-aligned.
    let mut numeric: Vec<bool> = key_column.map(|_| false).into_iter().collect();
    numeric.extend(columns.iter().map(|c| {
        let mut vals = rows
            .iter()
            .filter_map(|(_, r)| r.get(*c))
            .filter(|v| !v.is_null());
        vals.clone().next().is_some() && vals.all(Value::is_number)
    }));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(key, r)| {
            let mut line: Vec<String> = key.map(str::to_string).into_iter().collect();
            for c in &columns {
                line.push(cell(r.get(*c).unwrap_or(&Value::Null)));
            }
            line
        })
        .collect();
    aligned(out, pad, &header, &numeric, &body);
}

/// Prints `header` and `body` in columns two spaces apart, `numeric` ones
/// right-aligned.
fn aligned(out: &mut String, pad: &str, header: &[String], numeric: &[bool], body: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            body.iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let emit = |out: &mut String, cells: &[String]| {
        let mut line = pad.to_string();
        for (i, text) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                line.push_str("  ");
            }
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(line, "{text:>w$}");
            } else {
                let _ = write!(line, "{text:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    emit(out, header);
    for l in body {
        emit(out, l);
    }
}

/// `HH:MM:SS.micro` (UTC) of a time in ns since the epoch, with the date
/// when `with_date`.
pub fn clock(ns: u64, with_date: bool) -> String {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let t = format!("{h:02}:{m:02}:{s:02}.{micros:06}");
    if !with_date {
        return t;
    }
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {t}")
}

/// `/trace/start` and `/trace/stop`: one line.
fn trace_state(v: &Value) -> String {
    match (v["tracing"].as_u64(), v["port"].as_str()) {
        (Some(0), _) => "tracing stopped (the records stay: trace show)\n".into(),
        (Some(n), Some(p)) => format!("tracing the next {n} packet(s) received on port {p}\n"),
        (Some(n), None) => format!("tracing the next {n} packet(s) received on any port\n"),
        _ => render(v),
    }
}

/// An EtherType's name.
fn ethertype_name(t: &str) -> String {
    match t {
        "0x0800" => "ipv4".into(),
        "0x86dd" => "ipv6".into(),
        "0x0806" => "arp".into(),
        "0x8100" | "0x88a8" => format!("vlan ({t})"),
        t => t.to_string(),
    }
}

/// `/trace/show`: one block per packet.
fn trace(v: &Value) -> String {
    let mut out = String::new();
    let packets = v["packets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let remaining = v["remaining"].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "{} packet(s) traced{}",
        packets.len(),
        if remaining > 0 {
            format!(", {remaining} more to trace")
        } else {
            String::new()
        }
    );
    let s = |p: &Value, k: &str| p.get(k).filter(|v| !v.is_null()).map(cell);
    let mut first_day = None;
    for p in packets {
        out.push('\n');
        let ns = p["time_ns"].as_u64();
        let day = ns.map(|n| n / 86_400_000_000_000);
        let time = ns.map(|n| clock(n, first_day.is_none() || first_day != day));
        first_day = first_day.or(day);
        let mut head = format!("#{}", s(p, "seq").unwrap_or_else(|| "?".into()));
        for (label, v) in [
            ("", time),
            ("worker ", s(p, "worker")),
            ("port ", s(p, "port")),
            ("vlan ", s(p, "vlan")),
            ("len ", s(p, "len")),
        ] {
            if let Some(v) = v {
                let _ = write!(head, " {label}{v}");
            }
        }
        let _ = writeln!(out, "{head}");
        if let (Some(src), Some(dst)) = (s(p, "src_mac"), s(p, "dst_mac")) {
            let ty = s(p, "ethertype").map(|t| format!(" {}", ethertype_name(&t)));
            let _ = writeln!(out, "  ether  {src} > {dst}{}", ty.unwrap_or_default());
        }
        if let (Some(src), Some(dst)) = (s(p, "src"), s(p, "dst")) {
            let proto = p["proto"].as_u64().unwrap_or(0);
            let (src, dst) = match (s(p, "src_port"), s(p, "dst_port")) {
                (Some(sp), Some(dp)) => (join_port(&src, &sp), join_port(&dst, &dp)),
                _ => (src, dst),
            };
            let mut l = format!("  {:<6} {src} > {dst}", proto_name(proto));
            if let Some(t) = p["icmp_type"].as_u64() {
                let _ = write!(l, " {}", icmp_name(proto, t, p["icmp_code"].as_u64()));
                if let Some(id) = s(p, "icmp_id") {
                    let _ = write!(l, " id {id}");
                }
            }
            let _ = writeln!(out, "{l}");
        } else if let Some(dst) = s(p, "dst") {
            let _ = writeln!(out, "  ip     > {dst}");
        }
        let mut l = String::new();
        for (label, k) in [
            ("network", "network"),
            ("vrf", "vrf"),
            ("prefix", "prefix"),
            ("next hop", "next_hop"),
        ] {
            if let Some(v) = s(p, k) {
                let _ = write!(l, " {label} {v}");
            }
        }
        if !l.is_empty() {
            let _ = writeln!(out, "  lookup{l}");
        }
        let verdict = s(p, "verdict").unwrap_or_else(|| "?".into());
        let mut l = format!("  {verdict:<6}");
        if let Some(r) = s(p, "reason") {
            let _ = write!(l, " {r}");
        }
        if p["icmp_error"] == Value::Bool(true) {
            l.push_str(" (ICMP error sent)");
        }
        if let Some(e) = s(p, "egress_port") {
            let _ = write!(l, " -> port {e}");
        }
        if let Some(e) = s(p, "egress_network") {
            let _ = write!(l, " network {e}");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

fn join_port(addr: &str, port: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

fn proto_name(p: u64) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmp6".into(),
        132 => "sctp".into(),
        p => format!("ip/{p}"),
    }
}

fn icmp_name(proto: u64, ty: u64, code: Option<u64>) -> String {
    let name = match (proto, ty) {
        (1, 0) | (58, 129) => "echo-reply",
        (1, 8) | (58, 128) => "echo-request",
        (1, 3) | (58, 1) => "unreachable",
        (1, 11) | (58, 3) => "time-exceeded",
        (58, 2) => "packet-too-big",
        (58, 133) => "router-solicitation",
        (58, 134) => "router-advertisement",
        (58, 135) => "neighbor-solicitation",
        (58, 136) => "neighbor-advertisement",
        _ => "",
    };
    let code = code.unwrap_or(0);
    match (name, code) {
        ("", c) => format!("type {ty} code {c}"),
        (n, 0) => n.to_string(),
        (n, c) => format!("{n} code {c}"),
    }
}

/// `/config`: TOML, as the file would say it (absent values left out);
/// the generic rendering if it cannot be TOML.
fn config(v: &Value) -> String {
    fn strip(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => Some(Value::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), strip(v)?)))
                    .collect(),
            )),
            Value::Array(a) => Some(Value::Array(a.iter().filter_map(strip).collect())),
            v => Some(v.clone()),
        }
    }
    match strip(v).map(|v| toml::to_string(&v)) {
        Some(Ok(text)) => text,
        _ => render(v),
    }
}

/// `/stats`: totals, ports, networks, then drops by reason and where, then
/// the slow-path and CSN counters.
fn stats(v: &Value) -> String {
    let mut out = String::new();
    let Some(top) = v.as_object() else {
        return render(v);
    };
    if let Some(Value::Object(t)) = top.get("totals") {
        out.push_str("totals:\n");
        let order = [
            "rx_packets",
            "tx_packets",
            "replicated",
            "generated",
            "dropped",
        ];
        let mut keys: Vec<&String> = t.keys().collect();
        keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
        let header: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let row: Vec<String> = keys.iter().map(|k| cell(&t[k.as_str()])).collect();
        aligned(&mut out, "  ", &header, &vec![true; header.len()], &[row]);
    }
    // reason -> [(where, count)]
    let mut drops: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    for (section, what) in [("ports", "port"), ("networks", "network")] {
        let Some(Value::Object(m)) = top.get(section) else {
            continue;
        };
        let mut rows: Vec<(Option<&str>, Map<String, Value>)> = Vec::new();
        for (name, c) in m {
            let Some(c) = c.as_object() else { continue };
            let mut row = c.clone();
            let dropped: u64 = match row.remove("drops") {
                Some(Value::Object(d)) => {
                    for (reason, n) in &d {
                        let n = n.as_u64().unwrap_or(0);
                        let at = format!("{what} {name}");
                        match drops.iter_mut().find(|(r, _)| r == reason) {
                            Some((_, w)) => w.push((at, n)),
                            None => drops.push((reason.clone(), vec![(at, n)])),
                        }
                    }
                    d.values().filter_map(Value::as_u64).sum()
                }
                _ => 0,
            };
            row.insert("dropped".into(), dropped.into());
            rows.push((Some(name.as_str()), row));
        }
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{section}:");
        let lead = [
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "dropped",
        ];
        table(
            &mut out,
            "  ",
            Some("name"),
            &lead,
            rows.iter().map(|(k, r)| (*k, r)),
        );
    }
    out.push_str("drops:\n");
    if drops.is_empty() {
        out.push_str("  none\n");
    } else {
        let totals = top.get("drops");
        let header: Vec<String> = ["reason", "total", "where"].map(String::from).to_vec();
        let body: Vec<Vec<String>> = drops
            .iter()
            .map(|(reason, at)| {
                let total = totals
                    .and_then(|t| t.get(reason))
                    .map(cell)
                    .unwrap_or_else(|| "-".into());
                let at = at
                    .iter()
                    .map(|(w, n)| format!("{w}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![reason.clone(), total, at]
            })
            .collect();
        aligned(&mut out, "  ", &header, &[false, true, false], &body);
    }
    for (k, v) in top {
        if ["totals", "ports", "networks", "drops"].contains(&k.as_str()) {
            continue;
        }
        let _ = writeln!(out, "{k}:");
        if v.as_object().is_some_and(Map::is_empty) {
            out.push_str("  none\n");
        } else {
            render_into(&mut out, v, 2, &[]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn array_of_objects_is_a_table_with_the_union_of_keys() {
        let v = json!([
            {"name": "p0", "rx_packets": 10, "mtu": 1500},
            {"name": "port-long", "rx_packets": 1234, "driver": {"kind": "pcap"}},
        ]);
        assert_eq!(
            render(&v),
            "name        mtu  rx_packets  driver\n\
             p0         1500          10  -\n\
             port-long     -        1234  kind=pcap\n"
        );
    }

    #[test]
    fn object_of_objects_is_a_table_keyed_by_name() {
        let v = json!({"p0": {"rx": 1, "tx": 2}, "p1": {"rx": 30, "up": true}});
        assert_eq!(
            render(&v),
            "name  rx  tx  up\n\
             p0     1   2  -\n\
             p1    30   -  true\n"
        );
    }

    #[test]
    fn nested_tables_become_sections() {
        let v = json!({
            "ports": {"p0": {"rx": 1}},
            "drops": {"no_route": 3},
            "totals": {"rx": 1, "dropped": 3},
        });
        assert_eq!(
            render(&v),
            "drops:\n  no_route: 3\nports:\n  name  rx\n  p0     1\ntotals:\n  dropped: 3\n  rx:      1\n"
        );
    }

    #[test]
    fn scalars_and_mixed_objects_are_lines() {
        assert_eq!(
            render(
                &json!({"version": "cnfwd 0.1.0", "pid": 7, "tags": ["a", 1], "x": null, "none": []})
            ),
            "none:    -\npid:     7\ntags:    a,1\nversion: cnfwd 0.1.0\nx:       -\n"
        );
        assert_eq!(
            render_reply(
                "/info",
                &json!({"pid": 7, "socket": {"clients": 1, "refused": 0}, "version": "v"})
            ),
            "version: v\npid:     7\nsocket:\n  clients: 1\n  refused: 0\n"
        );
        assert_eq!(
            render_reply("/trace/start", &json!({"tracing": 5, "port": null})),
            "tracing the next 5 packet(s) received on any port\n"
        );
        assert_eq!(
            render(&json!({"status": "ok", "ports": [{"name": "a", "up": true}]})),
            "status: ok\nports:\n  name  up\n  a     true\n"
        );
        assert_eq!(render(&json!("ok")), "ok\n");
        assert_eq!(render(&json!(["/", "/info"])), "/\n/info\n");
        assert_eq!(render(&json!([])), "");
        assert_eq!(render(&json!({})), "");
        assert_eq!(render(&json!(null)), "-\n");
    }

    #[test]
    fn tables_lead_with_their_key_column() {
        let routes = json!([
            {"vrf": "red", "prefix": "10.0.0.0/8", "kind": "via", "next_hop": "10.1.0.1", "network": "core"},
            {"vrf": "red", "prefix": "10.1.0.0/24", "kind": "attached", "next_hop": null, "network": "core"},
        ]);
        assert_eq!(
            render_reply("/routes", &routes),
            "prefix       kind      next_hop  network  vrf\n\
             10.0.0.0/8   via       10.1.0.1  core     red\n\
             10.1.0.0/24  attached  -         core     red\n"
        );
        let drops = json!([
            {"reason": "no_route", "count": 12, "kind": "drop", "meaning": "no route"},
            {"reason": "arp_replied", "count": 3, "kind": "slow_path", "meaning": "ARP answered"},
        ]);
        assert_eq!(
            render_reply("/drops", &drops),
            "reason       count  kind       meaning\n\
             no_route        12  drop       no route\n\
             arp_replied      3  slow_path  ARP answered\n"
        );
    }

    #[test]
    fn stats_list_drops_by_reason_and_where() {
        let v = json!({
            "totals": {"dropped": 5, "rx_packets": 9},
            "ports": {"p0": {"rx_packets": 9, "rx_bytes": 900, "tx_packets": 4, "tx_bytes": 400,
                             "drops": {"no_route": 4, "ttl_expired": 1}}},
            "networks": {"red": {"rx_packets": 9, "rx_bytes": 900, "tx_packets": 4, "tx_bytes": 400,
                                 "drops": {"no_route": 4}}},
            "drops": {"no_route": 4, "ttl_expired": 1},
            "slow_path": {},
            "csn": {"flows_created": 2},
        });
        let text = render_reply("/stats", &v);
        assert_eq!(
            text,
            "totals:\n  rx_packets  dropped\n           9        5\n\
             ports:\n  name  rx_packets  rx_bytes  tx_packets  tx_bytes  dropped\n  \
             p0             9       900           4       400        5\n\
             networks:\n  name  rx_packets  rx_bytes  tx_packets  tx_bytes  dropped\n  \
             red            9       900           4       400        4\n\
             drops:\n  reason       total  where\n  \
             no_route         4  port p0: 4, network red: 4\n  \
             ttl_expired      1  port p0: 1\n\
             csn:\n  flows_created: 2\n\
             slow_path:\n  none\n"
        );
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn trace_blocks_name_addresses_ports_and_icmp_ids() {
        let v = json!({"remaining": 1, "packets": [
            {"seq": 0, "time_ns": 1_765_014_469_123_456_789u64, "worker": 0, "port": "app", "len": 98,
             "vlan": null, "src_mac": "02:00:00:00:00:01", "dst_mac": "02:00:00:00:00:02",
             "ethertype": "0x0800", "network": "app", "vrf": "red", "src": "10.1.0.5", "dst": "10.2.0.20", "proto": 1,
             "icmp_type": 8, "icmp_code": 0, "icmp_id": 77, "prefix": "10.2.0.0/24",
             "next_hop": "attached", "verdict": "tx", "egress_port": "db", "egress_network": "db"},
            {"seq": 1, "time_ns": 1_765_014_469_200_000_000u64, "worker": 0, "port": "app", "len": 60,
             "vlan": 100, "src_mac": "02:00:00:00:00:01", "dst_mac": "02:00:00:00:00:02",
             "network": "app", "vrf": "red", "src": "2001:db8::5", "dst": "2001:db8:1::9",
             "proto": 17, "src_port": 5353, "dst_port": 53, "verdict": "drop", "reason": "no_route",
             "icmp_error": true},
        ]});
        assert_eq!(
            render_reply("/trace/show", &v),
            "2 packet(s) traced, 1 more to trace\n\
             \n#0 2025-12-06 09:47:49.123456 worker 0 port app len 98\n\
             \x20 ether  02:00:00:00:00:01 > 02:00:00:00:00:02 ipv4\n\
             \x20 icmp   10.1.0.5 > 10.2.0.20 echo-request id 77\n\
             \x20 lookup network app vrf red prefix 10.2.0.0/24 next hop attached\n\
             \x20 tx     -> port db network db\n\
             \n#1 09:47:49.200000 worker 0 port app vlan 100 len 60\n\
             \x20 ether  02:00:00:00:00:01 > 02:00:00:00:00:02\n\
             \x20 udp    [2001:db8::5]:5353 > [2001:db8:1::9]:53\n\
             \x20 lookup network app vrf red\n\
             \x20 drop   no_route (ICMP error sent)\n"
        );
    }

    #[test]
    fn config_is_toml() {
        let v = json!({"engine": {"burst_size": 32, "cores": null},
                       "l3_isolation_domains": [{"name": "red", "static_routes": []}]});
        assert_eq!(
            render_reply("/config", &v),
            "[engine]\nburst_size = 32\n\n[[l3_isolation_domains]]\nname = \"red\"\nstatic_routes = []\n"
        );
    }

    #[test]
    fn clock_is_utc() {
        assert_eq!(clock(0, true), "1970-01-01 00:00:00.000000");
        assert_eq!(
            clock(951_782_400_000_001_000, true),
            "2000-02-29 00:00:00.000001"
        );
        assert_eq!(clock(1_765_014_469_123_456_789, false), "09:47:49.123456");
    }
}
