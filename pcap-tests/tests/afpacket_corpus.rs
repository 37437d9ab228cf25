//! Replays every case in `pcap-tests/cases/` through the AF_PACKET backend
//! over veth pairs and compares what leaves cnfwd with the same expected
//! captures and counters the pcap runner (`cases.rs`) uses.
//!
//! Per case: two fresh network namespaces, one for cnfwd and one for the
//! "test host", and one veth pair per case port (cnfwd end `c<i>` in
//! cnfwd's namespace, host end `h<i>` in the host's). The root namespace is
//! never touched. No address is configured anywhere and IPv6 is disabled in
//! both namespaces (default and per interface) before anything is up, so the
//! kernel sends nothing of its own on these links. The veths get MTU 9000 so
//! every input frame fits: no case depends on the interface MTU (cases 12
//! and 23 test the *network* MTUs of the config, which still apply).
//!
//! cnfwd is the library's live mode ([`dataplane::live::run_af_packet`],
//! what `cnfwd run` calls) on a thread that entered cnfwd's namespace, with
//! the case's `config.toml` rewritten to af_packet ports (same names, same
//! MACs, `interface = "c<i>"`), one worker, adaptive idle.
//!
//! Order: the pcap backend polls ports in configuration order, `burst_size`
//! frames per port per round, each burst to completion. The test sends the
//! same bursts in the same order from the host ends and, after each burst,
//! waits until cnfwd's received-packets counter has taken in the whole
//! burst before sending the next one. cnfwd therefore sees exactly the
//! replay's sequence of bursts (a burst may reach it split in two if a ring
//! block retires in between, with nothing from other ports in between), so
//! the output of every port is compared in full order with the pcap runner's
//! packet-by-packet comparison (`cnfwd_tools::pcapdiff`), which is stricter
//! than per-flow order.
//!
//! Frames veth cannot carry (only in case 10, all of them `eth_truncated`
//! by the rules) are not skipped silently:
//! - shorter than 14 bytes: the sending kernel refuses them (`EINVAL` from
//!   `dev_validate_header`); the test asserts exactly that error;
//! - 14..=17 bytes with an 802.1Q/802.1ad EtherType (cut inside the tag):
//!   sent, but the receiving kernel frees them in `skb_vlan_untag` before
//!   any packet socket sees them; the test asserts cnfwd never counts them.
//!
//! For both, the expected counters lose exactly what the rules say the
//! frame adds (port `rx_packets`/`rx_bytes`, one `eth_truncated` on the
//! port and at the top, the totals), and every other frame and counter of
//! the case must match.
//!
//! The slow path (docs/slow-path.md) runs live here: the host ends are
//! open before cnfwd starts, so its announcements are the first frames they
//! see; learning takes effect from the next burst on, as in replay; and the
//! run ends only once cnfwd has sent every frame the case expects (so
//! unanswered resolutions have their three requests, one second apart, and
//! their unreachable errors, in wall-clock time). Cases built around the
//! ICMP rate limits (`icmp_rate_limited` in their expected counters: floods
//! of thousands of frames "at one instant", refills over milliseconds) are
//! skipped with a printed reason: a live run cannot send thousands of
//! frames in one instant, so its token buckets refill while the flood is
//! still arriving. The pcap runner checks those cases exactly, and
//! `dataplane/tests/linux_hosts.rs` checks the limits live.
//!
//! Needs root (CAP_NET_ADMIN, CAP_NET_RAW) and `ip netns`; without them the
//! test prints a line and passes. CI runs it as root. Each case's guard
//! stops cnfwd and deletes both namespaces (and with them the veths) even
//! when the case panics.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cnfwd_config::model::{BackendKind, Config, IdleMode};
use cnfwd_config::Resolved;
use cnfwd_tools::pcapdiff::{diff, read_frames, read_timed_frames};
use dataplane::io::afpacket::AfPacketBackend;
use dataplane::io::Backend;
use dataplane::live::{run_af_packet, LiveError, LiveOptions, LiveReport};
use dataplane::packet::buf::HeapBuf;
use dataplane::packet::PacketBuf;
use pcap_tests::subset_mismatches;
use serde_json::Value;

/// How long cnfwd may take to take in one burst.
const BURST_WAIT: Duration = Duration::from_secs(5);
/// How long the host ends may take to receive everything cnfwd sent.
const OUTPUT_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for the frames of resolutions still running at the end of
/// the input (3 requests 1 s apart, failure 1 s after the last).
const SLOW_PATH_WAIT: Duration = Duration::from_secs(6);
/// The veth MTU: larger than any frame of the corpus.
const VETH_MTU: &str = "9000";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

// ---------------------------------------------------------------- set-up

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// True when this process can make namespaces and veth pairs.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        println!("skipping {test}: needs root (CAP_NET_ADMIN, CAP_NET_RAW)");
        return false;
    }
    if ip(&["netns", "list"]).is_err() {
        println!("skipping {test}: `ip netns` is not available");
        return false;
    }
    true
}

/// Runs `f` on a thread that entered namespace `ns` (threads it spawns stay
/// there too).
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in_netns(ns, f).join().expect("namespace thread")
}

fn spawn_in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let nsf = File::open(&path).expect("open namespace");
        // SAFETY: `nsf` is an open namespace file; setns changes only this
        // thread's network namespace, and the thread ends with `f`.
        let r = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Writes `1` to `disable_ipv6` of `conf` (`default`, `all` or an
/// interface) inside `ns`, and checks it reads back as `1`.
fn disable_ipv6(ns: &str, conf: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
    let value = in_netns(ns, move || {
        // A kernel without IPv6 has no such file: nothing to disable.
        if std::fs::write(&path, "1").is_err() && !Path::new(&path).exists() {
            return "1".to_owned();
        }
        std::fs::read_to_string(&path).unwrap_or_default()
    });
    assert_eq!(value.trim(), "1", "IPv6 still on for {conf} in {ns}");
}

/// cnfwd's namespace, the test host's namespace, and the veth pairs between
/// them. Dropping it deletes both namespaces, which destroys the veths.
struct Lab {
    cnfwd_ns: String,
    host_ns: String,
}

impl Lab {
    fn new(case: usize) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            cnfwd_ns: format!("cnfwd-afc{pid}-{case}-fwd"),
            host_ns: format!("cnfwd-afc{pid}-{case}-host"),
        };
        // Made before anything can fail, so the guard owns whatever exists.
        let a = ip(&["netns", "add", &lab.cnfwd_ns]);
        let b = ip(&["netns", "add", &lab.host_ns]);
        a.and(b).expect("create namespaces");
        for ns in [&lab.cnfwd_ns, &lab.host_ns] {
            disable_ipv6(ns, "default");
            disable_ipv6(ns, "all");
        }
        lab
    }

    /// Veth pair `i`: `c<i>` in cnfwd's namespace, `h<i>` in the host's,
    /// both MTU [`VETH_MTU`], IPv6 off, up. Returns the names.
    fn veth(&self, i: usize) -> (String, String) {
        let (c, h) = (format!("c{i}"), format!("h{i}"));
        ip(&[
            "-n",
            &self.cnfwd_ns,
            "link",
            "add",
            &c,
            "mtu",
            VETH_MTU,
            "type",
            "veth",
            "peer",
            "name",
            &h,
            "mtu",
            VETH_MTU,
            "netns",
            &self.host_ns,
        ])
        .expect("create veth pair");
        disable_ipv6(&self.cnfwd_ns, &c);
        disable_ipv6(&self.host_ns, &h);
        ip(&["-n", &self.cnfwd_ns, "link", "set", &c, "up"]).expect("cnfwd end up");
        ip(&["-n", &self.host_ns, "link", "set", &h, "up"]).expect("host end up");
        (c, h)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.cnfwd_ns]);
        let _ = ip(&["netns", "del", &self.host_ns]);
    }
}

// ---------------------------------------------------------- cnfwd thread

/// cnfwd's live run on its own thread. Dropping it stops cnfwd and waits
/// for it, so its sockets are closed before the namespaces are deleted.
struct Cnfwd {
    stop: Arc<AtomicBool>,
    /// Packets cnfwd has received so far (published counters, refreshed
    /// every millisecond by the rate tick).
    rx: Arc<AtomicU64>,
    /// Frames cnfwd has sent so far (the same counters).
    tx: Arc<AtomicU64>,
    /// Set at the first tick: the ports are open and the worker runs.
    ready: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<LiveReport, LiveError>>>,
}

impl Cnfwd {
    fn start(ns: &str, mut r: Resolved) -> Cnfwd {
        // No management socket: cases run one after another, each its own.
        r.control.enabled = false;
        let stop = Arc::new(AtomicBool::new(false));
        let rx = Arc::new(AtomicU64::new(0));
        let tx = Arc::new(AtomicU64::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let (s, x, y, z) = (stop.clone(), rx.clone(), ready.clone(), tx.clone());
        let thread = spawn_in_netns(ns, move || {
            let opts = LiveOptions {
                // A bound in case the test thread dies without the guard.
                duration: Some(Duration::from_secs(120)),
                interval: Some(Duration::from_millis(1)),
                ..LiveOptions::default()
            };
            run_af_packet(&r, &opts, &s, |tick| {
                let (rx, tx, _) = tick.stats.totals();
                x.store(rx, Ordering::Release);
                z.store(tx, Ordering::Release);
                y.store(true, Ordering::Release);
            })
        });
        Cnfwd {
            stop,
            rx,
            tx,
            ready,
            thread: Some(thread),
        }
    }

    /// Waits until cnfwd runs; an error if it ended (e.g. ports not opened).
    fn wait_ready(&mut self) -> Result<(), String> {
        let end = Instant::now() + BURST_WAIT;
        while !self.ready.load(Ordering::Acquire) {
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) || Instant::now() > end {
                return Err(match self.finish() {
                    Ok(_) => "cnfwd ended before its first tick".to_owned(),
                    Err(e) => e,
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Waits (at most [`SLOW_PATH_WAIT`]) until cnfwd has sent `n` frames.
    fn wait_tx(&self, n: u64) -> u64 {
        let end = Instant::now() + SLOW_PATH_WAIT;
        loop {
            let got = self.tx.load(Ordering::Acquire);
            if got >= n || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until cnfwd has received `n` packets; returns what it counted.
    fn wait_rx(&self, n: u64) -> u64 {
        let end = Instant::now() + BURST_WAIT;
        loop {
            let got = self.rx.load(Ordering::Acquire);
            if got >= n || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Stops cnfwd and returns its final report.
    fn finish(&mut self) -> Result<LiveReport, String> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => match t.join() {
                Ok(r) => r.map_err(|e| format!("cnfwd failed: {e}")),
                Err(_) => Err("cnfwd thread panicked".to_owned()),
            },
            None => Err("cnfwd already finished".to_owned()),
        }
    }
}

impl Drop for Cnfwd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// --------------------------------------------------------------- a case

/// What the kernel does with an input frame on a veth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carriage {
    /// Delivered to cnfwd as sent.
    Carried,
    /// Shorter than an Ethernet header: the sending kernel refuses it.
    RefusedBySender,
    /// Cut inside its VLAN tag: the receiving kernel frees it while
    /// untagging, before packet sockets see it.
    DroppedByReceiver,
}

fn carriage(frame: &[u8]) -> Carriage {
    if frame.len() < 14 {
        Carriage::RefusedBySender
    } else if frame.len() < 18 && matches!(frame[12..14], [0x81, 0x00] | [0x88, 0xa8]) {
        Carriage::DroppedByReceiver
    } else {
        Carriage::Carried
    }
}

/// The case's configuration with every port on af_packet (`c<i>`, MACs
/// kept), one worker, adaptive idle.
fn af_packet_config(case: &Path) -> Config {
    let text = std::fs::read_to_string(case.join("config.toml")).expect("read config.toml");
    let mut cfg = cnfwd_config::parse(&text, "config.toml").expect("config.toml parses");
    cfg.engine.workers = Some(1);
    cfg.engine.idle = IdleMode::Adaptive;
    for (i, p) in cfg.ports.iter_mut().enumerate() {
        assert_eq!(p.backend, BackendKind::Pcap, "case ports are pcap ports");
        assert!(p.mac.is_some(), "case ports have a MAC");
        p.backend = BackendKind::AfPacket;
        p.rx_pcap = None;
        p.tx_pcap = None;
        p.interface = Some(format!("c{i}").into());
    }
    cfg
}

/// Removes from `want` (expected-stats.json) what an `eth_truncated` frame
/// of `len` bytes received on `port` adds by the rules; a problem line if
/// the expected counters do not hold such a frame.
fn discount_truncated(want: &mut Value, port: &str, len: usize) -> Result<(), String> {
    let has_totals = want.get("totals").is_some();
    let mut dec = |path: &[&str], by: u64| -> Result<(), String> {
        let mut v = &mut *want;
        for k in path {
            v = v
                .get_mut(*k)
                .ok_or_else(|| format!("expected stats lack {}", path.join(".")))?;
        }
        let n = v.as_u64().unwrap_or(0);
        let left = n
            .checked_sub(by)
            .ok_or_else(|| format!("expected {} = {n} cannot hold this frame", path.join(".")))?;
        *v = Value::from(left);
        Ok(())
    };
    dec(&["ports", port, "rx_packets"], 1)?;
    dec(&["ports", port, "rx_bytes"], len as u64)?;
    dec(&["ports", port, "drops", "eth_truncated"], 1)?;
    dec(&["drops", "eth_truncated"], 1)?;
    if has_totals {
        dec(&["totals", "rx_packets"], 1)?;
        dec(&["totals", "dropped"], 1)?;
    }
    Ok(())
}

/// Opens the host ends as an AF_PACKET backend (raw frames out, VLAN tags
/// rebuilt from the ring's `tp_vlan_tci` on the way in).
fn host_backend(ns: &str, ifaces: Vec<String>) -> AfPacketBackend {
    let mut text = String::new();
    for (i, ifname) in ifaces.iter().enumerate() {
        text += &format!(
            "[[ports]]\nname = \"host{i}\"\nbackend = \"af_packet\"\ninterface = \"{ifname}\"\n\
             mode = \"access\"\nnetworks = [\"n{i}\"]\n\n[[l2_networks]]\nname = \"n{i}\"\nvlan = {}\n\n",
            i + 1
        );
    }
    let cfg = cnfwd_config::parse(&text, "<host>").expect("host config parses");
    let r = cnfwd_config::resolve(&cfg).expect("host config resolves");
    in_netns(ns, move || {
        AfPacketBackend::open(&r, 1).unwrap_or_else(|e| panic!("open host ends: {e}"))
    })
}

fn run_case(index: usize, case: &Path) -> Vec<String> {
    let cfg = af_packet_config(case);
    let resolved = cnfwd_config::resolve(&cfg).expect("rewritten config resolves");
    let burst = resolved.burst_size;
    let names: Vec<String> = cfg.ports.iter().map(|p| p.name.clone()).collect();
    let inputs: Vec<Vec<(u64, Vec<u8>)>> = names
        .iter()
        .map(|n| {
            let p = case.join(format!("in-{n}.pcap"));
            if p.exists() {
                read_timed_frames(&p).expect("read input")
            } else {
                Vec::new()
            }
        })
        .collect();
    // Cases whose meaning depends on time passing (TTLs, idle timeouts) have
    // gaps of seconds in their captures; replay clocks them by the capture,
    // a live run by the wall clock, so the sender waits out every gap of a
    // second or more (as tcpreplay does). Shorter gaps are not waited for.
    let mut last_ts: Option<u64> = None;

    // Guards in drop order: host sockets, then cnfwd, then the namespaces.
    let lab = Lab::new(index);
    let host_ifs: Vec<String> = (0..names.len()).map(|i| lab.veth(i).1).collect();
    // The host ends first: cnfwd announces its addresses as it starts.
    let mut host = host_backend(&lab.host_ns, host_ifs);
    let mut cnfwd = Cnfwd::start(&lab.cnfwd_ns, resolved);
    let mut problems = Vec::new();
    if let Err(e) = cnfwd.wait_ready() {
        return vec![e];
    }

    let mut want_stats: Option<Value> = {
        let p = case.join("expected-stats.json");
        p.exists().then(|| {
            serde_json::from_str(&std::fs::read_to_string(&p).expect("read expected stats"))
                .expect("expected-stats.json is JSON")
        })
    };

    // The replay's rounds: ports in configuration order, `burst` each.
    let mut sent_to_cnfwd = 0u64;
    let rounds = inputs
        .iter()
        .map(|f| f.len().div_ceil(burst))
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        for (port, frames) in inputs.iter().enumerate() {
            let chunk = frames.iter().skip(round * burst).take(burst);
            let mut any = false;
            for (ts, frame) in chunk {
                if let Some(gap) = last_ts.map(|l| ts.saturating_sub(l)) {
                    if gap >= 1_000_000_000 {
                        std::thread::sleep(Duration::from_nanos(gap));
                    }
                }
                last_ts = Some(last_ts.map_or(*ts, |l| l.max(*ts)));
                any = true;
                let how = carriage(frame);
                let mut one = vec![HeapBuf::from_frame(frame)];
                let taken = host.tx_burst(port as u16, &mut one).expect("host tx");
                match (how, taken) {
                    (Carriage::Carried | Carriage::DroppedByReceiver, 1) => {}
                    (Carriage::RefusedBySender, 0) => {
                        let (_, err) = host.tx_errors(port as u16);
                        let errno = err.and_then(|e| e.raw_os_error());
                        if errno != Some(libc::EINVAL) {
                            problems.push(format!(
                                "port {}: the kernel should refuse a {}-byte frame with EINVAL, got {err:?}",
                                names[port],
                                frame.len()
                            ));
                        }
                    }
                    (how, taken) => problems.push(format!(
                        "port {}: {}-byte frame ({how:?}) taken {taken} times by the sending kernel ({:?})",
                        names[port],
                        frame.len(),
                        host.tx_errors(port as u16).1
                    )),
                }
                match how {
                    Carriage::Carried => sent_to_cnfwd += 1,
                    Carriage::RefusedBySender | Carriage::DroppedByReceiver => {
                        if let Some(w) = want_stats.as_mut() {
                            if let Err(e) = discount_truncated(w, &names[port], frame.len()) {
                                problems.push(format!("port {}: {e}", names[port]));
                            }
                        }
                    }
                }
            }
            if any {
                let got = cnfwd.wait_rx(sent_to_cnfwd);
                if got < sent_to_cnfwd {
                    problems.push(format!(
                        "round {round}, port {}: cnfwd received {got} of {sent_to_cnfwd} frames",
                        names[port]
                    ));
                    return problems;
                }
            }
        }
    }

    // Resolutions still running (requests a second apart, then errors)
    // finish in wall-clock time: wait for every frame the case expects.
    let want_tx = want_stats
        .as_ref()
        .and_then(|w| w["totals"]["tx_packets"].as_u64());
    if let Some(want_tx) = want_tx {
        cnfwd.wait_tx(want_tx);
    }
    let report = match cnfwd.finish() {
        Ok(r) => r,
        Err(e) => {
            problems.push(e);
            return problems;
        }
    };
    let stats = report.stats.to_json(&report.tables);

    // Everything cnfwd sent, per host end: as many frames as its tx counter.
    for (port, name) in names.iter().enumerate() {
        let sent = stats["ports"][name]["tx_packets"].as_u64().unwrap_or(0) as usize;
        let mut bufs = Vec::new();
        let end = Instant::now() + OUTPUT_WAIT;
        while bufs.len() < sent && Instant::now() < end {
            if host.rx_burst(port as u16, &mut bufs, 64).expect("host rx") == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // Anything beyond cnfwd's count would show up as extra packets.
        std::thread::sleep(Duration::from_millis(5));
        while host.rx_burst(port as u16, &mut bufs, 64).expect("host rx") > 0 {}
        let actual: Vec<Vec<u8>> = bufs.iter().map(|b| b.data().to_vec()).collect();
        let expected_path = case.join(format!("expected-{name}.pcap"));
        let expected = if expected_path.exists() {
            read_frames(&expected_path).expect("read expected")
        } else {
            Vec::new()
        };
        for line in diff(&expected, &actual) {
            problems.push(format!("port {name}: {line}"));
        }
        let rejected = host.rx_rejected(port as u16);
        if rejected > 0 {
            problems.push(format!("port {name}: host end rejected {rejected} frames"));
        }
    }

    if let Some(want) = &want_stats {
        problems.extend(subset_mismatches(want, &stats, "stats"));
    }
    let (rx, tx, dropped) = report.stats.totals();
    let added = report.stats.added();
    if rx + added != tx + dropped {
        problems.push(format!(
            "rx {rx} + added {added} (flood copies, generated, extra fragments) != tx {tx} + dropped {dropped}"
        ));
    }
    if rx != sent_to_cnfwd {
        problems.push(format!(
            "cnfwd received {rx} frames, the host sent {sent_to_cnfwd} it can carry"
        ));
    }
    problems
}

#[test]
fn every_case_through_af_packet_matches_the_generator() {
    if !can_run("every_case_through_af_packet_matches_the_generator") {
        return;
    }
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.toml").exists())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 15,
        "expected at least 15 cases, found {}",
        cases.len()
    );
    let only = std::env::var("AFP_CASE").ok();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (i, case) in cases.iter().enumerate() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        if let Some(why) = live_skip(case) {
            println!("skip {name}: {why}");
            continue;
        }
        ran += 1;
        let started = Instant::now();
        let problems = run_case(i, case);
        let ms = started.elapsed().as_millis();
        if problems.is_empty() {
            println!("ok   {name} ({ms} ms)");
        } else {
            println!("FAIL {name} ({ms} ms)");
            for p in &problems {
                println!("     {p}");
            }
            failed.push(name);
        }
    }
    assert!(ran > 0, "AFP_CASE={only:?} matches no case");
    assert!(
        failed.is_empty(),
        "{} of {ran} cases failed: {failed:?}",
        failed.len()
    );
}

/// Why a case cannot be run live, if it cannot (see the module doc).
fn live_skip(case: &Path) -> Option<&'static str> {
    let text = std::fs::read_to_string(case.join("expected-stats.json")).ok()?;
    let want: Value = serde_json::from_str(&text).ok()?;
    let limited = want["slow_path"]["icmp_rate_limited"].as_u64().unwrap_or(0);
    (limited > 0).then_some(
        "built on ICMP rate limits over floods at one instant (the pcap runner checks it exactly)",
    )
}
