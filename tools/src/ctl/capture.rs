//! `cnfwdctl capture start|stop|status`: the command line of live packet
//! capture (like VPP's `pcap trace` and `dpdk-pdump`), its requests to
//! `/capture/*` and the text of their replies.
//!
//! The file is written by cnfwd: a relative FILE is made absolute here,
//! against cnfwdctl's working directory, before it is sent.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Map, Value};

use super::cli::{Request, UsageError};

/// `capture ...`
#[derive(Debug, Subcommand)]
pub enum Capture {
    /// Capture one port into a pcapng file (written by cnfwd; you must be
    /// allowed to write it, and it is given to you). Stops by itself after
    /// --count packets; tshark, Wireshark and tcpdump read it.
    Start {
        /// The port (as in `show ports`).
        #[arg(long, short = 'p')]
        port: String,
        /// rx (as received, before the pipeline), tx (as sent, after
        /// rewrite) or drop (dropped by the pipeline, with the reason as a
        /// packet comment); repeat or comma-separate; `all` for the three.
        /// Default: rx and tx.
        #[arg(long, short = 'd', value_name = "rx|tx|drop|all")]
        direction: Vec<String>,
        /// Stop after this many packets are written (at most 1000000).
        #[arg(long, short = 'c', default_value_t = 1000)]
        count: u64,
        /// Only packets matching this pcap-filter (tcpdump) expression:
        /// [src|dst] host ADDR, [src|dst] net PREFIX, [tcp|udp] [src|dst]
        /// port N, ip, ip6, arp, tcp, udp, icmp, icmp6, vlan [VID], joined
        /// with and/or/not (&&, ||, !) and parentheses. Looks through VLAN
        /// tags, as Wireshark does.
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Option<String>,
        /// Bytes kept of each frame (default 65535: whole frames).
        #[arg(long)]
        snaplen: Option<u32>,
        /// The pcapng file (relative: to this directory).
        file: PathBuf,
    },
    /// Stop the running capture (what was captured is written, the file
    /// closed) and show its final status.
    Stop,
    /// The running or last capture: state, port, directions, filter, file,
    /// packets written, matched and lost to full queues (overflow).
    Status,
}

/// The request for a `capture` command line.
pub fn request(c: &Capture) -> Result<Request, UsageError> {
    Ok(match c {
        Capture::Start {
            port,
            direction,
            count,
            filter,
            snaplen,
            file,
        } => {
            let mut p = Map::new();
            p.insert("port".into(), json!(port));
            p.insert("file".into(), json!(absolute(file)?));
            if !direction.is_empty() {
                p.insert("directions".into(), json!(direction.join(",")));
            }
            p.insert("count".into(), json!(count));
            if let Some(f) = filter {
                p.insert("filter".into(), json!(f));
            }
            if let Some(s) = snaplen {
                p.insert("snaplen".into(), json!(s));
            }
            Request::new("/capture/start", Some(Value::Object(p)))
        }
        Capture::Stop => Request::new("/capture/stop", None),
        Capture::Status => Request::new("/capture/status", None),
    })
}

fn absolute(file: &Path) -> Result<PathBuf, UsageError> {
    std::path::absolute(file).map_err(|source| UsageError::File {
        path: file.to_path_buf(),
        source,
    })
}

/// The text of a `/capture/*` reply (the status).
pub fn render(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let state = s("state");
    if state == "idle" {
        return "no capture since cnfwd started (capture start --port P FILE)\n".into();
    }
    let dirs: Vec<&str> = v
        .get("directions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let filter = match s("filter") {
        "" => "none".to_string(),
        f => format!("{f:?}"),
    };
    let mut out = format!(
        "capture {state}: port {}, {}, filter {filter}\n",
        s("port"),
        dirs.join(" ")
    );
    let rows = [
        ("file", s("file").to_string()),
        (
            "written",
            format!(
                "{} of {} packets ({} bytes)",
                n("written"),
                n("count"),
                n("bytes")
            ),
        ),
        (
            "matched",
            format!("{} (overflow {})", n("matched"), n("overflow")),
        ),
        (
            "snaplen",
            format!(
                "{} ({} slots per worker)",
                n("snaplen"),
                n("slots_per_worker")
            ),
        ),
        (
            "elapsed",
            format!(
                "{:.1} s",
                v.get("elapsed_seconds")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            ),
        ),
    ];
    for (k, val) in rows {
        out.push_str(&format!("  {k:<8} {val}\n"));
    }
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        out.push_str(&format!("  error    {e}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::cli::tests::msg;
    use crate::ctl::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_lines_become_capture_requests() {
        Cli::command().debug_assert();
        assert_eq!(
            msg(&["capture", "start", "-p", "net1", "/tmp/x.pcapng"]).unwrap(),
            r#"/capture/start,{"count":1000,"file":"/tmp/x.pcapng","port":"net1"}"#
        );
        assert_eq!(
            msg(&[
                "capture",
                "start",
                "--port",
                "net1",
                "-d",
                "rx",
                "--direction",
                "tx,drop",
                "-c",
                "5",
                "-f",
                "udp port 53",
                "--snaplen",
                "128",
                "/tmp/x.pcapng",
            ])
            .unwrap(),
            r#"/capture/start,{"count":5,"directions":"rx,tx,drop","file":"/tmp/x.pcapng","filter":"udp port 53","port":"net1","snaplen":128}"#
        );
        // A relative file is made absolute here.
        let m = msg(&["capture", "start", "-p", "net1", "x.pcapng"]).unwrap();
        let cwd = std::env::current_dir().unwrap().join("x.pcapng");
        assert!(m.contains(&format!("\"file\":{}", json!(cwd))), "{m}");
        assert_eq!(msg(&["capture", "stop"]).unwrap(), "/capture/stop");
        assert_eq!(msg(&["capture", "status"]).unwrap(), "/capture/status");
        // The port and the file are required.
        assert!(msg(&["capture", "start", "x.pcapng"]).is_err());
        assert!(msg(&["capture", "start", "-p", "net1"]).is_err());
        assert!(msg(&["capture", "start", "-p", "p", "-c", "x", "f"]).is_err());
    }

    #[test]
    fn status_text_names_every_figure() {
        let v = json!({
            "state": "done", "port": "net1", "directions": ["rx", "drop"],
            "filter": "udp and host 10.0.0.1", "file": "/tmp/x.pcapng",
            "count": 10, "written": 4, "bytes": 512, "matched": 5, "overflow": 1,
            "snaplen": 65535, "slots_per_worker": 10, "elapsed_seconds": 1.25,
            "error": null,
        });
        assert_eq!(
            render(&v),
            "capture done: port net1, rx drop, filter \"udp and host 10.0.0.1\"\n  \
             file     /tmp/x.pcapng\n  \
             written  4 of 10 packets (512 bytes)\n  \
             matched  5 (overflow 1)\n  \
             snaplen  65535 (10 slots per worker)\n  \
             elapsed  1.2 s\n"
        );
        assert!(render(&json!({"state": "idle"})).starts_with("no capture"));
        let failed = json!({"state": "failed", "error": "No space left on device (os error 28)"});
        assert!(render(&failed).contains("  error    No space left"));
    }
}
