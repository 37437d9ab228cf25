//! `cnfwd-bench` against a forwarder whose faults are known
//! (`cnfwd-bench-testfwd`): the NDR search finds its rate cap, an added
//! delay shows in the latency percentiles, and drops, swaps and duplicates
//! are counted exactly.
//!
//! Topology, in one namespace made for the test (deleted on drop):
//! `g0 --veth-- f0 [testfwd] f1 --veth-- s0`; the generator sends on g0,
//! the receiver counts on s0. Rates are low (at most 40 kpps) so a loaded
//! 2-core machine keeps up; the token-bucket cap is policed on the frames'
//! kernel arrival times, so it does not depend on when the forwarder runs.
//! The tests run one at a time (a lock), also under a parallel test runner.
//! Needs root; skipped (passing, with a line) otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cnfwd_tools::bench::netns::{can_run, veth, Netns};
use cnfwd_tools::bench::profile::Profile;
use cnfwd_tools::bench::run::search;
use cnfwd_tools::bench::traffic::Traffic;
use cnfwd_tools::bench::trial::{run_trial, TrialResult, TrialSpec};
use dataplane::io::afpacket::{AfPacketBackend, RingConfig};
use serde_json::Value;

/// One test at a time: their traffic would share the two CPUs.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Lab {
    ns: Netns,
    tx: AfPacketBackend,
    rx: AfPacketBackend,
    gen_mac: [u8; 6],
    fwd_mac: [u8; 6],
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let ns = Netns::new(tag, "lab").expect("namespace");
        veth(&ns, "g0", &ns, "f0").expect("veth g0-f0");
        veth(&ns, "f1", &ns, "s0").expect("veth f1-s0");
        let tx = ns
            .open(
                "g0",
                RingConfig {
                    block_count: 2,
                    ..RingConfig::default()
                },
            )
            .expect("open g0");
        let rx = ns
            .open(
                "s0",
                RingConfig {
                    block_count: 128,
                    ..RingConfig::default()
                },
            )
            .expect("open s0");
        let dir = std::env::temp_dir().join(format!("cnfwd-bench-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Lab {
            gen_mac: ns.mac("g0").expect("mac"),
            fwd_mac: ns.mac("f0").expect("mac"),
            ns,
            tx,
            rx,
            dir,
        }
    }

    /// Starts the test forwarder with `args`; stopped (and its counters
    /// read) by [`Fwd::stop`], killed on drop.
    fn fwd(&self, args: &[&str]) -> Fwd {
        let stats = self.dir.join("fwd.json");
        let _ = std::fs::remove_file(&stats);
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns.name,
                env!("CARGO_BIN_EXE_cnfwd-bench-testfwd"),
            ])
            .args(["--in", "f0", "--out", "f1", "--stats"])
            .arg(&stats)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start cnfwd-bench-testfwd");
        std::thread::sleep(Duration::from_millis(500));
        Fwd {
            child: Some(child),
            stats,
        }
    }

    fn traffic(&self, p: &Profile) -> Traffic {
        Traffic::new(p, self.gen_mac, self.fwd_mac)
    }

    fn trial(&mut self, p: &Profile, pps: f64, secs: f64) -> TrialResult {
        let t = self.traffic(p);
        let spec = TrialSpec {
            rate: Some(pps),
            duration: Duration::from_secs_f64(secs),
            drain: Duration::from_millis(400),
            burst: p.burst,
        };
        run_trial(&mut self.tx, &mut self.rx, &t, &spec).expect("trial")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Fwd {
    child: Option<Child>,
    stats: PathBuf,
}

impl Fwd {
    fn stop(mut self) -> Value {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = child.wait().expect("wait");
        assert!(status.success(), "cnfwd-bench-testfwd: {status}");
        let text = std::fs::read_to_string(&self.stats).expect("forwarder counters");
        serde_json::from_str(&text).expect("counters JSON")
    }
}

impl Drop for Fwd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn profile(text: &str) -> Profile {
    Profile::parse(text, "<test>").expect("profile")
}

#[test]
fn ndr_search_finds_the_rate_cap_within_5_percent() {
    if !can_run("ndr_search_finds_the_rate_cap_within_5_percent") {
        return;
    }
    let _serial = serial();
    const CAP: f64 = 30_000.0;
    let mut lab = Lab::new("ndr");
    // Bucket: 20 ms of the cap, so a generator late by up to 20 ms does not
    // look like loss below the cap; above it, 1 s trials lose what exceeds
    // cap + 600 packets, so the NDR cannot pass 1.02 x cap.
    let fwd = lab.fwd(&["--rate-cap", "30000", "--bucket", "600"]);
    let p = profile(
        "name = \"cap\"\n[flows]\ncount = 64\n[search]\ntrial_duration = 1.0\nwidth = 0.01\n\
         min_rate = 2000\nmax_rate = 60000\nlatency_duration = 0.5\ngenerator_lag = 0.01\nattempts = 4\n",
    );
    let t = lab.traffic(&p);
    let r = search(&p, &mut lab.tx, &mut lab.rx, &t, None).expect("search");
    let c = fwd.stop();
    for t in &r.trials {
        println!(
            "trial {:2} rate {:8.0} sent {:7} received {:7} loss {:.4} generator lag {:.1} ms, {} attempt(s)",
            t.n, t.rate, t.result.sent, t.result.received, t.result.loss_ratio, t.result.generator_lag_ms, t.result.attempts
        );
    }
    println!("NDR {:?}\nPDR {:?}\nforwarder {c}", r.ndr, r.pdr);
    let err = (r.ndr.lower - CAP).abs() / CAP;
    assert!(
        err <= 0.05,
        "NDR {:.0} is {:.1} % off the cap {CAP}",
        r.ndr.lower,
        err * 100.0
    );
    assert!(
        r.pdr.lower >= r.ndr.lower,
        "PDR below NDR: {:?} {:?}",
        r.pdr,
        r.ndr
    );
    assert!(
        c["policed"].as_u64().unwrap() > 0,
        "the cap was never reached"
    );
    // Latency trials at 10/50/90 % of PDR, with percentiles.
    let lat: Vec<_> = r.trials.iter().filter(|t| t.latency_at.is_some()).collect();
    assert_eq!(lat.len(), 3);
    for t in lat {
        let l = t.result.latency.as_ref().expect("latency measured");
        assert!(l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max);
        assert!(t.result.latency_corrected.is_some());
    }
}

#[test]
fn an_added_delay_per_burst_shows_in_the_percentiles() {
    if !can_run("an_added_delay_per_burst_shows_in_the_percentiles") {
        return;
    }
    let _serial = serial();
    const DELAY_NS: u64 = 5_000_000;
    let mut lab = Lab::new("delay");
    let p = profile("[flows]\ncount = 16\n");
    let fwd = lab.fwd(&[]);
    let base = lab.trial(&p, 5_000.0, 1.0);
    fwd.stop();
    let fwd = lab.fwd(&["--delay-us", "5000"]);
    let slow = lab.trial(&p, 5_000.0, 1.0);
    fwd.stop();
    let b = base.latency.expect("latency without delay");
    let s = slow.latency.expect("latency with delay");
    println!("without delay: {b:?}\nwith 5 ms per burst: {s:?}");
    assert!(
        s.min >= DELAY_NS,
        "min {} ns < the 5 ms added to every burst",
        s.min
    );
    assert!(s.p50 >= DELAY_NS && s.p99 >= DELAY_NS);
    assert!(
        b.min < DELAY_NS,
        "without delay the min ({} ns) is under 5 ms",
        b.min
    );
    assert!(b.min < s.min);
    // From the intended send times, latency is never less.
    let sc = slow
        .latency_corrected
        .expect("corrected latency at a fixed rate");
    assert!(sc.p50 >= s.p50 && sc.max >= s.max);
    assert_eq!(base.lost + slow.lost, 0, "no loss at 5 kpps");
}

#[test]
fn drops_swaps_and_duplicates_are_counted_exactly() {
    if !can_run("drops_swaps_and_duplicates_are_counted_exactly") {
        return;
    }
    let _serial = serial();
    let mut lab = Lab::new("faults");
    // One flow: every swap is a reordering within the flow.
    let p = profile("[flows]\ncount = 1\n");
    let fwd = lab.fwd(&[
        "--drop-every",
        "97",
        "--dup-every",
        "89",
        "--swap-every",
        "83",
    ]);
    let r = lab.trial(&p, 20_000.0, 1.0);
    let c = fwd.stop();
    println!("bench: {r:?}\nforwarder: {c}");
    let n = |k: &str| c[k].as_u64().unwrap();
    assert!(n("dropped") > 100 && n("duplicated") > 100 && n("swapped") > 100);
    // What never reached the forwarder is lost too (expected: nothing).
    let before_fwd = r.sent - n("received");
    assert_eq!(r.lost, n("dropped") + before_fwd, "loss");
    assert_eq!(r.duplicates, n("duplicated"), "duplicates");
    assert_eq!(r.reordered, n("swapped"), "reordered");
    assert_eq!(r.received, r.sent - r.lost);
}
