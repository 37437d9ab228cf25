//! cnfwd's /metrics listener (`dataplane::control::metrics::MetricsServer`)
//! beside `tiny_http` 0.12 serving the same body, in one run, on 127.0.0.1
//! only: the measurement behind the decision written in that module's doc.
//!
//! For each server, one after the other in the same process:
//! 1. **Scrape latency**: 500 sequential `GET /metrics` (a 64 KiB body),
//!    median and worst.
//! 2. **Silent clients**: 200 connections that send nothing; then the
//!    process's thread count and the time one scrape takes beside them.
//! 3. **Endless request head**: one client sends 32 MiB of header bytes
//!    without a line end; the server's resident memory growth meanwhile,
//!    and whether it cut the client off.
//!
//! `cargo run --release -p cnfwd-benches --example http_listener_compare`

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use dataplane::control::metrics::MetricsServer;

const SILENT: usize = 200;
const SCRAPES: usize = 500;
const HEAD_BYTES: usize = 32 << 20;

fn body() -> String {
    let mut s = String::with_capacity(64 * 1024);
    let mut i = 0;
    while s.len() < 64 * 1024 {
        s.push_str(&format!(
            "cnfwd_port_rx_packets_total{{port=\"p{i}\"}} {i}\n"
        ));
        i += 1;
    }
    s
}

/// `name:` line of /proc/self/status, as a number (kB for memory).
fn proc_status(name: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn scrape(addr: SocketAddr) -> Duration {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 200"), "scrape failed");
    t.elapsed()
}

/// A tiny_http server answering every request with `body`, the way a
/// replacement would: one thread receiving requests. It runs until the
/// process exits (its pool threads blocked on silent or endless clients
/// would not end with it anyway).
fn start_tiny(body: String) -> SocketAddr {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("tiny_http bind");
    let addr = server.server_addr().to_ip().expect("ip address");
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let _ = req.respond(tiny_http::Response::from_string(body.clone()));
        }
    });
    addr
}

fn measure(label: &str, addr: SocketAddr) {
    // 1. Latency.
    let mut t: Vec<Duration> = (0..SCRAPES).map(|_| scrape(addr)).collect();
    t.sort();
    println!(
        "{label}: {SCRAPES} scrapes of 64 KiB: median {:?}, worst {:?}",
        t[t.len() / 2],
        t[t.len() - 1]
    );

    // 2. Silent clients.
    let threads_before = proc_status("Threads:");
    let silent: Vec<TcpStream> = (0..SILENT)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    // Let the server accept them all (tiny_http starts its threads lazily).
    std::thread::sleep(Duration::from_secs(2));
    let threads = proc_status("Threads:");
    let beside = scrape(addr);
    println!(
        "{label}: {} silent clients: threads {threads_before} -> {threads}; one scrape beside them {beside:?}",
        silent.len()
    );
    drop(silent);
    std::thread::sleep(Duration::from_millis(300));

    // 3. Endless request head.
    let rss_before = proc_status("VmRSS:");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX: ");
    let t0 = Instant::now();
    while sent < HEAD_BYTES {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss = proc_status("VmRSS:");
    let mut answer = [0u8; 64];
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let got = s.read(&mut answer).unwrap_or(0);
    println!(
        "{label}: endless head: {} KiB accepted in {:?} before the server stopped reading, RSS {rss_before} -> {rss} kB, answer {:?}",
        sent / 1024,
        t0.elapsed(),
        String::from_utf8_lossy(&answer[..got.min(40)]).lines().next().unwrap_or("(none)")
    );
}

fn main() {
    let b = body();
    {
        let b = b.clone();
        let ours = MetricsServer::start("127.0.0.1:0".parse().expect("addr"), move || b.clone())
            .expect("ours bind");
        measure("cnfwd  ", ours.local_addr());
    }
    std::thread::sleep(Duration::from_millis(500));
    measure("tiny_http", start_tiny(b));
}
