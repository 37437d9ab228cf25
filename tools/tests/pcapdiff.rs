//! The `cnfwd-pcapdiff` binary as a user meets it: full `--help` with
//! status 0, `--version`, a capped list of differences with a count of the
//! rest, timestamps ignored by default (and said so, with the largest skew)
//! or compared on request, and a summary line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataplane::io::pcap::file::CaptureWriter;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("cnfwd-pcapdiff-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An Ethernet + IPv4 + UDP frame with `ttl` and destination port `port`.
fn frame(ttl: u8, port: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[
        0x45, 0, 0, 28, 0, 1, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend_from_slice(&[0x13, 0x88]);
    f.extend_from_slice(&port.to_be_bytes());
    f.extend_from_slice(&[0, 8, 0, 0]);
    f
}

fn write(path: &Path, packets: &[(u64, Vec<u8>)]) {
    let mut w = CaptureWriter::create(path).unwrap();
    for (t, f) in packets {
        w.write(*t, f).unwrap();
    }
    w.flush().unwrap();
}

fn pcapdiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnfwd-pcapdiff"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_and_version_exit_zero() {
    let out = pcapdiff(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let h = text(&out.stdout);
    for want in [
        "Usage: cnfwd-pcapdiff [OPTIONS] <EXPECTED> <ACTUAL>",
        "--max-diffs <N>",
        "--timestamps <MODE>",
        "[default: ignore]",
        "Exit status: 0",
    ] {
        assert!(h.contains(want), "--help lacks {want:?}:\n{h}");
    }
    let out = pcapdiff(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("cnfwd-pcapdiff {}\n", env!("CARGO_PKG_VERSION"))
    );
    // A usage error is 2, with the usage.
    let out = pcapdiff(&["only-one.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Usage:"),
        "{}",
        text(&out.stderr)
    );
    // An unreadable file is 2, naming it.
    let out = pcapdiff(&["/nonexistent/a.pcap", "/nonexistent/b.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/a.pcap"));
}

#[test]
fn an_hour_of_skew_is_ignored_but_reported_or_compared() {
    let d = Scratch::new("skew");
    let (e, a) = (d.0.join("e.pcap"), d.0.join("a.pcap"));
    let t0 = 1_765_000_000_000_000_000u64;
    let hour = 3_600_000_000_000u64;
    write(&e, &[(t0, frame(64, 53)), (t0 + 1_000, frame(64, 53))]);
    write(
        &a,
        &[
            (t0 + hour, frame(64, 53)),
            (t0 + hour + 1_000, frame(64, 53)),
        ],
    );
    let out = pcapdiff(&[e.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "identical: 2 packets (timestamps ignored; largest skew 3600.000000 s (packet 1))\n"
    );
    let out = pcapdiff(&[
        "--timestamps",
        "compare",
        e.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    assert!(
        lines[0].starts_with("packet 1: timestamp differs: expected 1765000000.000000, got 1765003600.000000 (+3600.000000 s)"),
        "{t}"
    );
    assert_eq!(
        lines[2],
        "different: 2 of 2 paired packets differ (timestamps compared: 2 differ; largest skew 3600.000000 s (packet 1))"
    );
}

#[test]
fn differences_are_capped_with_a_count_of_the_rest() {
    let d = Scratch::new("cap");
    let (e, a) = (d.0.join("e.pcap"), d.0.join("a.pcap"));
    let exp: Vec<_> = (0..30).map(|i| (i * 1000, frame(64, 53))).collect();
    let mut act: Vec<_> = (0..30).map(|i| (i * 1000, frame(63, 53))).collect();
    act.push((99_000, frame(64, 53)));
    write(&e, &exp);
    write(&a, &act);
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.push(e.to_str().unwrap().into());
        v.push(a.to_str().unwrap().into());
        v
    };
    let run = |extra: &[&str]| {
        let v = args(extra);
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        pcapdiff(&v)
    };

    // Default cap: 20 of 31 differences (30 packets + the count line).
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 22, "{t}");
    assert_eq!(lines[0], "packet 1: ip.ttl differs: expected 64, got 63");
    assert_eq!(lines[19], "packet 20: ip.ttl differs: expected 64, got 63");
    assert_eq!(lines[20], "... and 11 more (--max-diffs 0 prints all)");
    assert_eq!(
        lines[21],
        "different: 30 of 30 paired packets differ, expected 30 packets, got 31 (timestamps ignored; largest skew none)"
    );

    let out = run(&["--max-diffs", "3"]);
    let t = text(&out.stdout);
    assert_eq!(t.lines().count(), 5, "{t}");
    assert!(t.contains("... and 28 more"), "{t}");

    let out = run(&["--max-diffs", "0"]);
    let t = text(&out.stdout);
    assert_eq!(t.lines().count(), 32, "{t}");
    assert!(t.contains("expected 30 packets, got 31\n"), "{t}");
    assert!(!t.contains("more"), "{t}");

    let out = run(&["-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 1);

    // Same file: identical.
    let out = pcapdiff(&[e.to_str().unwrap(), e.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "identical: 30 packets (timestamps ignored; largest skew none)\n"
    );
}
