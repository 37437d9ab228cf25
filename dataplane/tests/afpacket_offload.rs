//! The AF_PACKET backend between real Linux hosts that leave checksums and
//! segmentation to offload (issue 11).
//!
//! Two network namespaces are two hosts, each with a veth pair whose other
//! end (in the root namespace, unique to the test and process) is a cnfwd
//! port. The hosts' offloads stay as the kernel sets them on veth (checksum
//! offload, TSO, GSO, UDP segmentation: on; `ethtool -k` is printed), so
//! their stacks hand cnfwd partial checksums and GSO super-frames. cnfwd
//! (the backend, the engine's worker and the pipeline, with the hosts as
//! static neighbours) routes between them; the hosts have it as their
//! gateway with a permanent neighbour entry. Then:
//!
//! - TCP over IPv4 and IPv6, 10 MB each way at once, every byte checked;
//! - UDP datagrams (odd sizes, IPv4 and IPv6, and a `UDP_SEGMENT` send that
//!   must arrive as separate datagrams) reach a socket on the other host,
//!   and a capture there finds their checksums valid;
//! - neither host counts a checksum error, and the backend's counters show
//!   completed checksums and segmented GSO frames.
//!
//! Traffic stays inside the namespaces and veths, which a guard deletes.
//! The test needs root (CAP_NET_ADMIN, CAP_NET_RAW) and `ip netns`; without
//! them it prints a line and passes. CI runs it as root.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

use common::hosts::{can_run, ip};
use common::{checksum, StopOnDrop};
use dataplane::engine::Worker;
use dataplane::io::afpacket::{AfPacketBackend, OffloadCounters};
use dataplane::tables::Tables;

/// `UDP_SEGMENT` (linux/udp.h), not in libc for glibc targets.
const UDP_SEGMENT: libc::c_int = 103;
/// Bytes sent each way on each TCP connection.
const TCP_BYTES: u64 = 10 * 1024 * 1024;

// ---------------------------------------------------------------- set-up

/// One host: a namespace with one interface, addressed, cnfwd its gateway.
struct Host {
    ns: String,
    ifname: String,
    v4: [u8; 4],
    v6: String,
}

/// The hosts' namespaces and cnfwd's veth ends; all deleted on drop.
struct Lab {
    namespaces: Vec<String>,
    links: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = ip(&["link", "del", l]);
        }
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// What a host and its cnfwd port are: `(suffix, host MAC, host IPv4,
/// prefix number n: 10.n.0.0/24 and fdn::/64, cnfwd's port MAC)`.
struct HostSpec {
    suffix: char,
    mac: &'static str,
    v4: [u8; 4],
    net: u8,
    gw_mac: &'static str,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            namespaces: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Makes host `h`: a namespace, a veth pair (cnfwd's end in the root
    /// namespace, up, IPv6 off, returned), the host's end configured with
    /// its MAC, addresses, default routes via cnfwd and permanent neighbour
    /// entries for the gateways. Offloads are left alone.
    fn host(&mut self, h: &HostSpec) -> (String, Host) {
        let pid = std::process::id();
        let ns = format!("cnfwd-o{pid}-{}", h.suffix);
        ip(&["netns", "add", &ns]).expect("create namespace");
        self.namespaces.push(ns.clone());
        let a = format!("co{pid}{}", h.suffix);
        let p = format!("{a}h");
        assert!(p.len() <= 15, "interface name {p} too long");
        ip(&[
            "link", "add", "dev", &a, "type", "veth", "peer", "name", &p, "netns", &ns,
        ])
        .expect("create veth pair");
        self.links.push(a.clone());
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{a}/disable_ipv6"), "1");
        ip(&["link", "set", "dev", &a, "up"]).expect("cnfwd end up");
        let n = h.net;
        let v4 = format!("{}/24", dotted(h.v4));
        let v6 = format!("fd0{n}::{}", h.v4[3]);
        let gw4 = format!("10.{n}.0.1");
        let gw6 = format!("fd0{n}::1");
        let steps: Vec<Vec<&str>> = vec![
            vec!["link", "set", "dev", "lo", "up"],
            vec!["link", "set", "dev", &p, "address", h.mac],
            vec!["addr", "add", &v4, "dev", &p],
            vec!["link", "set", "dev", &p, "up"],
            vec!["route", "add", "default", "via", &gw4],
            vec![
                "neigh",
                "replace",
                &gw4,
                "lladdr",
                h.gw_mac,
                "dev",
                &p,
                "nud",
                "permanent",
            ],
        ];
        for s in &steps {
            let mut args = vec!["-n", ns.as_str()];
            args.extend(s);
            ip(&args).expect("configure host");
        }
        let v6_cidr = format!("{v6}/64");
        for s in [
            vec!["-6", "addr", "add", &v6_cidr, "dev", &p, "nodad"],
            vec!["-6", "route", "add", "default", "via", &gw6],
            vec![
                "-6",
                "neigh",
                "replace",
                &gw6,
                "lladdr",
                h.gw_mac,
                "dev",
                &p,
                "nud",
                "permanent",
            ],
        ] {
            let mut args = vec!["-n", ns.as_str()];
            args.extend(s);
            ip(&args).expect("configure host IPv6");
        }
        (
            a,
            Host {
                ns,
                ifname: p,
                v4: h.v4,
                v6,
            },
        )
    }
}

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// Starts `f` on a thread that entered namespace `ns`.
fn spawn_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
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

fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in(ns, f).join().expect("namespace thread")
}

/// The offload settings of `ifname` in `ns` (`ethtool -k`), if ethtool runs.
fn ethtool_k(ns: &str, ifname: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ethtool", "-k", ifname])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn feature_on(k: &str, name: &str) -> bool {
    k.lines()
        .any(|l| l.trim_start().starts_with(&format!("{name}: on")))
}

/// The `Udp`/`Tcp` `InCsumErrors` of the calling thread's namespace.
fn csum_errors() -> (u64, u64) {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").expect("snmp");
    let field = |proto: &str| -> u64 {
        let mut lines = snmp.lines().filter(|l| l.starts_with(&format!("{proto}:")));
        let names: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        let values: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        let i = names.iter().position(|n| *n == "InCsumErrors").unwrap();
        values[i].parse().unwrap()
    };
    (field("Udp"), field("Tcp"))
}

// ------------------------------------------------------------- traffic

/// The byte at `pos` of stream `seed`.
fn pattern(seed: u64, pos: u64) -> u8 {
    let x = ((pos / 8) ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> ((pos % 8) * 8)) as u8
}

/// Writes `TCP_BYTES` of stream `seed`, then closes the sending side.
fn send_stream(mut s: TcpStream, seed: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0;
    while pos < TCP_BYTES {
        let n = buf.len().min((TCP_BYTES - pos) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(seed, pos + i as u64);
        }
        s.write_all(&buf[..n])?;
        pos += n as u64;
    }
    s.shutdown(std::net::Shutdown::Write)
}

/// Reads until EOF, checking every byte against stream `seed`; returns
/// the byte count, or where it first differed.
fn check_stream(mut s: TcpStream, seed: u64) -> Result<u64, String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("read at {pos}: {e}"))?;
        if n == 0 {
            return Ok(pos);
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b != pattern(seed, pos + i as u64) {
                return Err(format!("byte {} differs", pos + i as u64));
            }
        }
        pos += n as u64;
    }
}

/// Sends and checks at once on `s`: our stream `out_seed`, theirs `in_seed`.
fn exchange(s: TcpStream, out_seed: u64, in_seed: u64) -> Result<u64, String> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || send_stream(w, out_seed));
    let got = check_stream(s, in_seed);
    writer.join().unwrap().map_err(|e| format!("write: {e}"))?;
    got
}

/// A TCP transfer between the hosts: `TCP_BYTES` each way at once, every
/// byte checked on both sides.
fn tcp_both_ways(a: &Host, b: &Host, server: IpAddr, port: u16) {
    let addr = SocketAddr::new(server, port);
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = spawn_in(&b.ns, move || {
        let l = TcpListener::bind(addr).expect("listen");
        tx.send(()).unwrap();
        let (s, _) = l.accept().expect("accept");
        exchange(s, 2, 1)
    });
    rx.recv().unwrap();
    let cli = spawn_in(&a.ns, move || {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect: {e}"))?;
        exchange(s, 1, 2)
    });
    let client = cli.join().unwrap();
    let server_got = srv.join().unwrap();
    assert_eq!(client, Ok(TCP_BYTES), "{server}: host A received");
    assert_eq!(server_got, Ok(TCP_BYTES), "{server}: host B received");
}

/// A raw capture socket on `ifname` (opened in the calling thread's
/// namespace).
fn capture(ifname: &str) -> OwnedFd {
    let c = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: `c` is a valid C string for the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert_ne!(idx, 0);
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain system call, no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = idx as i32;
    // SAFETY: `sll` is a valid address of the length passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
    fd
}

/// Frames queued on capture socket `fd`, until none comes for 200 ms.
fn drain(fd: &OwnedFd) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 200) } <= 0 {
            return frames;
        }
        let mut buf = vec![0u8; 65536];
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 {
            buf.truncate(n as usize);
            frames.push(buf);
        }
    }
}

/// For a captured Ethernet frame carrying UDP to `port`: whether its UDP
/// checksum verifies. `None` for other frames.
fn udp_checksum_ok(f: &[u8], port: u16) -> Option<bool> {
    let (l4, pseudo): (usize, Vec<u8>) = match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 if f[23] == 17 => {
            let l4 = 14 + usize::from(f[14] & 0xf) * 4;
            let mut p = f[26..34].to_vec();
            p.extend_from_slice(&[0, 17]);
            p.extend_from_slice(&((f.len() - l4) as u16).to_be_bytes());
            (l4, p)
        }
        0x86dd if f[20] == 17 => {
            let mut p = f[22..54].to_vec();
            p.extend_from_slice(&((f.len() - 54) as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 17]);
            (54, p)
        }
        _ => return None,
    };
    if u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]) != port {
        return None;
    }
    let mut all = pseudo;
    all.extend_from_slice(&f[l4..]);
    Some(f[l4 + 6..l4 + 8] != [0, 0] && checksum(&all) == 0)
}

/// Datagrams from host A to host B on `port`: each payload size in `sizes`
/// over IPv4 and IPv6, then one `UDP_SEGMENT` send of `gso_total` bytes in
/// `gso_size` pieces per family. Returns the payloads B's socket received
/// and the captured frames' checksum verdicts.
fn udp_from_a_to_b(
    a: &Host,
    b: &Host,
    port: u16,
    sizes: &[usize],
    gso: (usize, u16),
) -> (Vec<Vec<u8>>, Vec<bool>) {
    let targets = [
        SocketAddr::new(IpAddr::from(b.v4), port),
        SocketAddr::new(b.v6.parse().unwrap(), port),
    ];
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let bif = b.ifname.clone();
    let receiver = spawn_in(&b.ns, move || {
        let cap = capture(&bif);
        let socks: Vec<UdpSocket> = targets
            .iter()
            .map(|t| {
                let s = UdpSocket::bind(t).expect("bind UDP");
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                s
            })
            .collect();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        for s in &socks {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = s.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
        }
        let verdicts = drain(&cap)
            .iter()
            .filter_map(|f| udp_checksum_ok(f, port))
            .collect::<Vec<_>>();
        (got, verdicts)
    });
    ready_rx.recv().unwrap();
    let sizes = sizes.to_vec();
    in_netns(&a.ns, move || {
        for t in targets {
            let s = UdpSocket::bind(if t.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).unwrap();
            for (i, &n) in sizes.iter().enumerate() {
                let d: Vec<u8> = (0..n).map(|k| pattern(i as u64, k as u64)).collect();
                s.send_to(&d, t).expect("send UDP");
                std::thread::sleep(Duration::from_millis(1));
            }
            let g = libc::c_int::from(gso.1);
            // SAFETY: `g` is a live c_int of the length passed.
            let r = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_UDP,
                    UDP_SEGMENT,
                    (&g as *const libc::c_int).cast(),
                    4,
                )
            };
            assert_eq!(r, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
            let d: Vec<u8> = (0..gso.0).map(|k| pattern(99, k as u64)).collect();
            s.send_to(&d, t).expect("send UDP with UDP_SEGMENT");
        }
    });
    receiver.join().unwrap()
}

// ---------------------------------------------------------------- test

const HOST_A: HostSpec = HostSpec {
    suffix: 'a',
    mac: "02:aa:00:00:01:10",
    v4: [10, 1, 0, 10],
    net: 1,
    gw_mac: "02:00:00:00:01:01",
};
const HOST_B: HostSpec = HostSpec {
    suffix: 'b',
    mac: "02:aa:00:00:02:20",
    v4: [10, 2, 0, 20],
    net: 2,
    gw_mac: "02:00:00:00:02:01",
};

fn config(app: &str, db: &str) -> cnfwd_config::Resolved {
    let text = format!(
        r#"
[[l3_isolation_domains]]
name = "vrf1"

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "vrf1"
ipv4_connected_prefix = "10.1.0.0/24"
ipv6_connected_prefix = "fd01::/64"
neighbors = [{{ ip = "10.1.0.10", mac = "{ma}" }}, {{ ip = "fd01::10", mac = "{ma}" }}]

[[l3_networks]]
name = "db"
vlan = 200
l3_isolation_domain = "vrf1"
ipv4_connected_prefix = "10.2.0.0/24"
ipv6_connected_prefix = "fd02::/64"
neighbors = [{{ ip = "10.2.0.20", mac = "{mb}" }}, {{ ip = "fd02::20", mac = "{mb}" }}]

[[ports]]
name = "app"
backend = "af_packet"
interface = "{app}"
mac = "{ga}"
mode = "access"
networks = ["app"]

[[ports]]
name = "db"
backend = "af_packet"
interface = "{db}"
mac = "{gb}"
mode = "access"
networks = ["db"]
"#,
        ma = HOST_A.mac,
        mb = HOST_B.mac,
        ga = HOST_A.gw_mac,
        gb = HOST_B.gw_mac,
    );
    let cfg = cnfwd_config::parse(&text, "<test>").expect("config parses");
    cnfwd_config::resolve(&cfg).expect("config resolves")
}

#[test]
fn hosts_with_offloads_on_talk_tcp_and_udp_through_cnfwd() {
    if !can_run("hosts_with_offloads_on_talk_tcp_and_udp_through_cnfwd", &[]) {
        return;
    }
    let mut lab = Lab::new();
    let (app, a) = lab.host(&HOST_A);
    let (db, b) = lab.host(&HOST_B);
    // Offloads as the kernel set them; shown, and decide what must be seen.
    let features: Vec<Option<String>> = [&a, &b]
        .iter()
        .map(|h| ethtool_k(&h.ns, &h.ifname))
        .collect();
    for (h, k) in [&a, &b].iter().zip(&features) {
        match k {
            Some(k) => println!(
                "{} {}: {}",
                h.ns,
                h.ifname,
                k.lines()
                    .filter(|l| l.contains("checksumming:")
                        || l.contains("segmentation-offload:")
                        || l.contains("tx-udp-segmentation:"))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => println!("{} {}: ethtool not available", h.ns, h.ifname),
        }
    }
    let all_on = |name: &str| {
        features
            .iter()
            .all(|k| k.as_deref().is_some_and(|k| feature_on(k, name)))
    };
    let csum_offload = all_on("tx-checksumming");
    let tso = all_on("tcp-segmentation-offload");

    let r = config(&app, &db);
    let mut be = AfPacketBackend::open(&r, 1).expect("open backend");
    let t = Tables::build(&r, &be.port_macs()).expect("tables");
    let stop = AtomicBool::new(false);
    let (be, stats) = std::thread::scope(|s| {
        let fwd = s.spawn(|| {
            let mut w: Worker<AfPacketBackend> = Worker::new(&t, 32);
            while !stop.load(Ordering::Acquire) {
                let n = w.poll(&mut be, &t, 0).unwrap() + w.poll(&mut be, &t, 1).unwrap();
                if n == 0 {
                    std::thread::sleep(Duration::from_micros(20));
                }
            }
            w.finish(&mut be).unwrap();
            (be, w.stats)
        });
        let _stop = StopOnDrop(&stop);

        // cnfwd forwards: a ping goes through (no offload involved).
        let b4 = dotted(b.v4);
        let end = Instant::now() + Duration::from_secs(10);
        while Command::new("ip")
            .args(["netns", "exec", &a.ns, "ping", "-c1", "-W1", &b4])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(false)
        {
            assert!(Instant::now() < end, "no ping through cnfwd");
        }

        let sizes = [1, 17, 100, 333, 1001, 1400, 1452];
        let (got, verdicts) = udp_from_a_to_b(&a, &b, 5002, &sizes, (4500, 1000));
        let mut want = Vec::new();
        for _family in 0..2 {
            for (i, &n) in sizes.iter().enumerate() {
                want.push(
                    (0..n)
                        .map(|k| pattern(i as u64, k as u64))
                        .collect::<Vec<u8>>(),
                );
            }
            let whole: Vec<u8> = (0..4500).map(|k| pattern(99, k as u64)).collect();
            want.extend(whole.chunks(1000).map(<[u8]>::to_vec));
        }
        assert_eq!(got.len(), want.len(), "datagrams received by host B");
        assert_eq!(got, want, "datagrams' payloads");
        assert_eq!(verdicts.len(), want.len(), "datagrams captured on host B");
        assert!(
            verdicts.iter().all(|&ok| ok),
            "UDP checksums on host B's wire: {verdicts:?}"
        );

        let started = Instant::now();
        tcp_both_ways(&a, &b, IpAddr::from(b.v4), 5001);
        tcp_both_ways(&a, &b, b.v6.parse().unwrap(), 5001);
        println!(
            "TCP: 4 x {} MB through cnfwd in {:?}",
            TCP_BYTES >> 20,
            started.elapsed()
        );
        for h in [&a, &b] {
            let (udp, tcp) = in_netns(&h.ns, csum_errors);
            assert_eq!((udp, tcp), (0, 0), "{}: UDP/TCP InCsumErrors", h.ns);
        }
        stop.store(true, Ordering::Release);
        fwd.join().unwrap()
    });

    let counters: Vec<OffloadCounters> = (0..2).map(|p| be.offload_counters(p)).collect();
    println!(
        "offload counters: app {:?}, db {:?}",
        counters[0], counters[1]
    );
    let (rx, tx, dropped) = stats.totals();
    let drops: Vec<(&str, u64)> = dataplane::pipeline::DropReason::ALL
        .iter()
        .zip(stats.drops())
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| (r.name(), n))
        .collect();
    // Drops are the hosts' own multicast (IPv6 router solicitations,
    // MLD reports), never the traffic above.
    println!("engine: rx {rx}, tx {tx}, dropped {dropped} {drops:?}");
    assert!(
        drops.iter().all(|(r, _)| *r != "rx_unconvertible"),
        "{drops:?}"
    );
    for (port, c) in counters.iter().enumerate() {
        assert_eq!(c.rx_offload_rejected, 0, "port {port}");
        if csum_offload {
            assert!(c.rx_csum_completed > 0, "port {port}: {c:?}");
        }
        if tso {
            assert!(c.rx_gso_segmented > 0, "port {port}: {c:?}");
            assert!(c.rx_gso_segments > c.rx_gso_segmented, "port {port}: {c:?}");
        }
    }
}
