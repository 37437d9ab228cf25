//! The AF_PACKET backend over real veth pairs.
//!
//! Each test makes its own network namespace (the "test host") and veth
//! pairs: cnfwd's ends stay in the root namespace under names unique to the
//! test and process, their peers go into the namespace. A guard deletes
//! both (even when the test fails). Frames are built here and sent and
//! received on the peers with raw AF_PACKET sockets opened from a thread
//! that entered the namespace (`setns`). No addresses are configured and
//! IPv6 is disabled on every interface made here, so nothing but the
//! tests' frames crosses them, and nothing leaves them.
//!
//! The tests need root (CAP_NET_ADMIN, CAP_NET_RAW) and `ip netns`; without
//! them they print a line and pass. CI runs them as root.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::hosts::{can_run, ip};
use common::{checksum, StopOnDrop};
use dataplane::engine::Worker;
use dataplane::io::afpacket::{AfPacketBackend, AfPacketError};
use dataplane::io::Backend;
use dataplane::packet::buf::HeapBuf;
use dataplane::packet::PacketBuf;
use dataplane::tables::Tables;

// ---------------------------------------------------------------- set-up

/// A test host namespace and the veth pairs into it; all deleted on drop.
struct Lab {
    ns: String,
    /// cnfwd-side ends, in the root namespace.
    links: Vec<String>,
    tag: String,
}

impl Lab {
    /// `n` tells the tests of one process apart.
    fn new(n: u32) -> Self {
        let pid = std::process::id();
        let lab = Lab {
            ns: format!("cnfwd-t{pid}-{n}"),
            links: Vec::new(),
            tag: format!("cf{pid}{n}"),
        };
        ip(&["netns", "add", &lab.ns]).expect("create namespace");
        lab
    }

    /// A veth pair: `(cnfwd end in the root namespace, peer in the namespace)`.
    /// Both are up (unless `up` is false) with IPv6 off.
    fn veth(&mut self, suffix: char, up: bool) -> (String, String) {
        let a = format!("{}{suffix}", self.tag);
        let p = format!("{a}p");
        assert!(p.len() <= 15, "interface name {p} too long");
        ip(&[
            "link", "add", &a, "type", "veth", "peer", "name", &p, "netns", &self.ns,
        ])
        .expect("create veth pair");
        self.links.push(a.clone());
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{a}/disable_ipv6"), "1");
        let peer = p.clone();
        in_netns(&self.ns, move || {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{peer}/disable_ipv6"), "1");
        });
        if up {
            ip(&["link", "set", &a, "up"]).expect("veth up");
            ip(&["-n", &self.ns, "link", "set", &p, "up"]).expect("peer up");
        }
        (a, p)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = ip(&["link", "del", l]);
        }
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

/// Runs `f` on a thread that entered namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let nsf = File::open(&path).expect("open namespace");
        // SAFETY: `nsf` is an open namespace file; setns changes only this
        // thread's network namespace, and the thread ends with `f`.
        let r = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

// ------------------------------------------------------- peer raw socket

/// A raw socket on a peer interface: sends frames as given, receives frames
/// with the VLAN tag the kernel stripped put back (from PACKET_AUXDATA).
struct Peer {
    fd: OwnedFd,
}

impl Peer {
    /// Opens a socket on `ifname` inside namespace `ns`.
    fn open(ns: &str, ifname: &str) -> Peer {
        let ifname = ifname.to_owned();
        in_netns(ns, move || {
            let c = std::ffi::CString::new(ifname.clone()).unwrap();
            // SAFETY: `c` is a valid C string for the call.
            let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
            assert_ne!(idx, 0, "peer {ifname} not found");
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain system call, no pointers.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    i32::from(proto),
                )
            };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: `fd` is a fresh descriptor owned by nothing else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let one: libc::c_int = 1;
            // SAFETY: `one` is a live c_int of the length passed.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_AUXDATA,
                    (&one as *const libc::c_int).cast(),
                    4,
                )
            };
            assert_eq!(r, 0);
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
            common::rawsock::large_receive_buffer(&fd);
            Peer { fd }
        })
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is readable for its length during the call.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            r,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// One received frame (not our own outgoing ones), if any is queued.
    fn try_recv(&self) -> Option<Vec<u8>> {
        loop {
            let mut buf = vec![0u8; 65536];
            let mut cbuf = [0u64; 64];
            // SAFETY: all-zero is a valid sockaddr_ll / msghdr.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: as above.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            // SAFETY: every pointer in `msg` refers to a live local buffer of
            // the length given.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
            if n < 0 {
                return None;
            }
            if sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            buf.truncate(n as usize);
            // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its
            // control buffer within `msg_controllen`.
            let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
            while !c.is_null() {
                // SAFETY: `c` is a valid header inside the control buffer.
                let h = unsafe { &*c };
                if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == libc::PACKET_AUXDATA {
                    // SAFETY: a PACKET_AUXDATA message carries a tpacket_auxdata.
                    let aux: libc::tpacket_auxdata = unsafe {
                        libc::CMSG_DATA(c)
                            .cast::<libc::tpacket_auxdata>()
                            .read_unaligned()
                    };
                    if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                        let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                            aux.tp_vlan_tpid
                        } else {
                            0x8100
                        };
                        let mut tag = tpid.to_be_bytes().to_vec();
                        tag.extend_from_slice(&aux.tp_vlan_tci.to_be_bytes());
                        buf.splice(12..12, tag);
                    }
                }
                // SAFETY: as for CMSG_FIRSTHDR.
                c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
            }
            return Some(buf);
        }
    }

    /// Frames received within `wait` whose source MAC is `src`, up to `n`.
    fn recv_from(&self, src: [u8; 6], n: usize, wait: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < end {
            match self.try_recv() {
                Some(f) if f.len() >= 12 && f[6..12] == src => got.push(f),
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        got
    }
}

// ------------------------------------------------------------- frames

/// An Ethernet frame (optionally with one tag `(tpid, tci)`) carrying
/// IPv4/UDP from `src_ip` to `dst_ip` with `ttl`; `seq` goes in the payload.
fn ipv4_udp(
    dst: [u8; 6],
    src: [u8; 6],
    tag: Option<(u16, u16)>,
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    ttl: u8,
    seq: u32,
) -> Vec<u8> {
    ipv4_udp_ports(dst, src, tag, (src_ip, 12345), (dst_ip, 53), ttl, seq)
}

/// [`ipv4_udp`] with the UDP ports given: `(address, port)` each side.
fn ipv4_udp_ports(
    dst: [u8; 6],
    src: [u8; 6],
    tag: Option<(u16, u16)>,
    (src_ip, sport): ([u8; 4], u16),
    (dst_ip, dport): ([u8; 4], u16),
    ttl: u8,
    seq: u32,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some((tpid, tci)) = tag {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let payload = [b"cnfwd-afp".as_slice(), &seq.to_be_bytes(), &[0u8; 13]].concat();
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut iph = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        ttl,
        17,
        0,
        0,
    ];
    iph.extend_from_slice(&src_ip);
    iph.extend_from_slice(&dst_ip);
    let c = checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&iph);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[(udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    f.extend_from_slice(&payload);
    f
}

fn config(ports: &[(&str, &str, &str, &str)]) -> cnfwd_config::Resolved {
    let text = config_text(ports);
    let cfg = cnfwd_config::parse(&text, "<test>").expect("config parses");
    cnfwd_config::resolve(&cfg).expect("config resolves")
}

/// The TOML of [`config`]: two L3 networks, one VRF, af_packet access ports.
fn config_text(ports: &[(&str, &str, &str, &str)]) -> String {
    // (port name, interface, mac, network)
    let mut text = String::from(
        r#"
[[l3_isolation_domains]]
name = "vrf1"

[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }]

[[l3_networks]]
name = "db"
vlan = 200
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.2.0.0/24"
neighbors = [{ ip = "10.2.0.20", mac = "02:aa:00:00:02:20" }]
"#,
    );
    for (name, ifname, mac, net) in ports {
        text += &format!(
            "\n[[ports]]\nname = \"{name}\"\nbackend = \"af_packet\"\ninterface = \"{ifname}\"\nmac = \"{mac}\"\nmode = \"access\"\nnetworks = [\"{net}\"]\n"
        );
    }
    text
}

fn rx_until(be: &mut AfPacketBackend, port: u16, n: usize, wait: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + wait;
    let mut bufs = Vec::new();
    while bufs.len() < n && Instant::now() < end {
        if be.rx_burst(port, &mut bufs, 32).unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    bufs.iter().map(|b| b.data().to_vec()).collect()
}

const HOST_A: [u8; 6] = [0x02, 0xaa, 0, 0, 0x01, 0x10];
const HOST_B: [u8; 6] = [0x02, 0xaa, 0, 0, 0x02, 0x20];
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x01];

// ---------------------------------------------------------------- tests

#[test]
fn round_trip_keeps_frames_and_tags() {
    if !can_run("round_trip_keeps_frames_and_tags", &[]) {
        return;
    }
    let mut lab = Lab::new(1);
    let (a, ap) = lab.veth('a', true);
    let r = config(&[("app", &a, "02:00:00:00:01:01", "app")]);
    let mut be = AfPacketBackend::open(&r, 1).expect("open backend");
    assert_eq!(be.port_count(), 1);
    assert_eq!(be.port_macs(), vec![Some(MAC_A)]);
    let peer = Peer::open(&lab.ns, &ap);

    // Peer -> cnfwd: untagged, 802.1Q PCP 5 VID 100, 802.1ad VID 7.
    let sent = vec![
        ipv4_udp(MAC_A, HOST_A, None, [10, 1, 0, 10], [10, 2, 0, 20], 64, 1),
        ipv4_udp(
            MAC_A,
            HOST_A,
            Some((0x8100, (5 << 13) | 100)),
            [10, 1, 0, 10],
            [10, 2, 0, 20],
            64,
            2,
        ),
        ipv4_udp(
            MAC_A,
            HOST_A,
            Some((0x88a8, 7)),
            [10, 1, 0, 10],
            [10, 2, 0, 20],
            64,
            3,
        ),
    ];
    for f in &sent {
        peer.send(f);
    }
    let got: Vec<_> = rx_until(&mut be, 0, sent.len(), Duration::from_secs(3))
        .into_iter()
        .filter(|f| f[6..12] == HOST_A)
        .collect();
    assert_eq!(got, sent, "frames received by cnfwd differ from those sent");
    assert_eq!(be.rx_rejected(0), 0);

    // cnfwd -> peer.
    let out = vec![
        ipv4_udp(HOST_A, MAC_A, None, [10, 2, 0, 20], [10, 1, 0, 10], 63, 4),
        ipv4_udp(
            HOST_A,
            MAC_A,
            Some((0x8100, (5 << 13) | 100)),
            [10, 2, 0, 20],
            [10, 1, 0, 10],
            63,
            5,
        ),
    ];
    let mut pkts: Vec<_> = out.iter().map(|f| HeapBuf::from_frame(f)).collect();
    let taken = be.tx_burst(0, &mut pkts).unwrap();
    assert_eq!(taken, out.len());
    assert!(pkts.is_empty());
    let got = peer.recv_from(MAC_A, out.len(), Duration::from_secs(3));
    assert_eq!(got, out, "frames sent by cnfwd differ on the peer");
    assert_eq!(be.kernel_drops(0), 0);
}

#[test]
fn errors_name_the_interface() {
    if !can_run("errors_name_the_interface", &[]) {
        return;
    }
    let mut lab = Lab::new(2);
    let missing = format!("{}zz", lab.tag);
    let r = config(&[("app", &missing, "02:00:00:00:01:01", "app")]);
    let e = AfPacketBackend::open(&r, 1)
        .err()
        .expect("missing interface refused");
    assert_eq!(
        e.to_string(),
        format!("interface \"{missing}\" does not exist")
    );

    let (down, _) = lab.veth('d', false);
    let r = config(&[("app", &down, "02:00:00:00:01:01", "app")]);
    let e = AfPacketBackend::open(&r, 1)
        .err()
        .expect("down interface refused");
    assert!(matches!(e, AfPacketError::Down { .. }), "{e}");
    assert!(e.to_string().contains("is down"), "{e}");
    assert!(e.to_string().contains(&down), "{e}");
}

#[test]
fn routes_between_two_veth_ports() {
    if !can_run("routes_between_two_veth_ports", &[]) {
        return;
    }
    let mut lab = Lab::new(3);
    let (a, ap) = lab.veth('a', true);
    let (b, bp) = lab.veth('b', true);
    let r = config(&[
        ("app", &a, "02:00:00:00:01:01", "app"),
        ("db", &b, "02:00:00:00:02:01", "db"),
    ]);
    let mut be = AfPacketBackend::open(&r, 1).expect("open backend");
    let t = Tables::build(&r, &be.port_macs()).expect("tables");
    let mut w: Worker<AfPacketBackend> = Worker::new(&t, 32);
    let peer_a = Peer::open(&lab.ns, &ap);
    let peer_b = Peer::open(&lab.ns, &bp);

    const N: u32 = 200;
    let mut expected = Vec::new();
    for seq in 0..N {
        let f = ipv4_udp(MAC_A, HOST_A, None, [10, 1, 0, 10], [10, 2, 0, 20], 64, seq);
        peer_a.send(&f);
        expected.push(ipv4_udp(
            HOST_B,
            MAC_B,
            None,
            [10, 1, 0, 10],
            [10, 2, 0, 20],
            63,
            seq,
        ));
    }
    let end = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < N as usize && Instant::now() < end {
        w.poll(&mut be, &t, 0).unwrap();
        w.poll(&mut be, &t, 1).unwrap();
        while let Some(f) = peer_b.try_recv() {
            // The stream only (cnfwd also announces its gateway addresses).
            if f[6..12] == MAC_B && f[12..14] == [0x08, 0x00] {
                got.push(f);
            }
        }
    }
    assert_eq!(got.len(), expected.len(), "forwarded {} of {N}", got.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
        assert_eq!(checksum(&g[14..34]), 0, "IPv4 header checksum");
    }
    // The stream, and the gratuitous ARP announcing db's gateway at start.
    assert_eq!(w.stats.ports[1].tx_packets, u64::from(N) + 1);
    assert_eq!(be.kernel_drops(0), 0);
}

#[test]
fn oversized_tx_is_refused_alone() {
    if !can_run("oversized_tx_is_refused_alone", &[]) {
        return;
    }
    let mut lab = Lab::new(4);
    let (a, ap) = lab.veth('a', true);
    let r = config(&[("app", &a, "02:00:00:00:01:01", "app")]);
    let mut be = AfPacketBackend::open(&r, 1).expect("open backend");
    let peer = Peer::open(&lab.ns, &ap);

    let ok1 = ipv4_udp(HOST_A, MAC_A, None, [10, 2, 0, 20], [10, 1, 0, 10], 63, 1);
    let ok2 = ipv4_udp(HOST_A, MAC_A, None, [10, 2, 0, 20], [10, 1, 0, 10], 63, 2);
    let mut big = ok1.clone();
    big.resize(3000, 0); // > MTU 1500: the kernel refuses it (EMSGSIZE).
    let mut pkts: Vec<_> = [&ok1, &big, &ok2]
        .iter()
        .map(|f| HeapBuf::from_frame(f))
        .collect();
    let taken = be.tx_burst(0, &mut pkts).unwrap();
    assert_eq!(taken, 2);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].data(), &big[..]);
    let (errors, last) = be.tx_errors(0);
    assert_eq!(errors, 1);
    assert_eq!(last.and_then(|e| e.raw_os_error()), Some(libc::EMSGSIZE));
    let got = peer.recv_from(MAC_A, 3, Duration::from_millis(500));
    assert_eq!(got, vec![ok1, ok2]);
}

#[test]
fn fanout_spreads_flows_and_keeps_their_order() {
    if !can_run("fanout_spreads_flows_and_keeps_their_order", &[]) {
        return;
    }
    let mut lab = Lab::new(5);
    let (a, ap) = lab.veth('a', true);
    let r = config(&[("app", &a, "02:00:00:00:01:01", "app")]);
    let be = AfPacketBackend::open(&r, 2).expect("open backend with 2 queues");
    assert_eq!(be.queue_count(), 2);
    let parts = be.split();
    assert_eq!(parts.len(), 2);
    let peer = Peer::open(&lab.ns, &ap);

    const FLOWS: u32 = 64;
    const PER_FLOW: u32 = 20;
    // One worker thread per queue, each with its own part of the backend;
    // they stop when both together have everything (or after 5 s).
    let total_rx = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let want = (FLOWS * PER_FLOW) as usize;
    let workers: Vec<_> = parts
        .into_iter()
        .map(|mut part| {
            let total_rx = total_rx.clone();
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::Relaxed;
                let end = Instant::now() + Duration::from_secs(5);
                let mut bufs = Vec::new();
                while total_rx.load(Relaxed) < want && Instant::now() < end {
                    let n = part.rx_burst(0, &mut bufs, 32).unwrap();
                    total_rx.fetch_add(n, Relaxed);
                    if n == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                let got: Vec<Vec<u8>> = bufs.iter().map(|b| b.data().to_vec()).collect();
                (got, part.kernel_drops(0))
            })
        })
        .collect();
    for seq in 0..PER_FLOW {
        for flow in 0..FLOWS {
            let src = [10, 1, 0, 10 + flow as u8];
            peer.send(&ipv4_udp(MAC_A, HOST_A, None, src, [10, 2, 0, 20], 64, seq));
        }
    }
    let mut total = 0;
    let mut seen_on = vec![None; FLOWS as usize];
    for (q, w) in workers.into_iter().enumerate() {
        let (got, drops) = w.join().unwrap();
        assert_eq!(drops, 0);
        assert!(!got.is_empty(), "queue {q} received nothing");
        let mut next_seq = vec![0u32; FLOWS as usize];
        for f in got.iter().filter(|f| f[6..12] == HOST_A) {
            let flow = (f[29] - 10) as usize;
            let seq = u32::from_be_bytes(f[51..55].try_into().unwrap());
            assert_eq!(seq, next_seq[flow], "flow {flow} out of order on queue {q}");
            next_seq[flow] += 1;
            assert!(
                seen_on[flow].is_none_or(|s| s == q),
                "flow {flow} on two queues"
            );
            seen_on[flow] = Some(q);
            total += 1;
        }
    }
    assert_eq!(total, FLOWS * PER_FLOW);
}

/// `cnfwd run` on af_packet ports: forwards, prints rate lines, stops on
/// SIGINT with everything counted, and stops by itself on `--duration`.
#[test]
fn cnfwd_run_forwards_and_stops_on_sigint_and_duration() {
    if !can_run("cnfwd_run_forwards_and_stops_on_sigint_and_duration", &[]) {
        return;
    }
    let mut lab = Lab::new(7);
    let (a, ap) = lab.veth('a', true);
    let (b, bp) = lab.veth('b', true);
    let dir = std::env::temp_dir().join(format!("cnfwd-afp-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("run.toml");
    std::fs::write(
        &cfg,
        // Two pinned workers, each with its own fanout socket per port.
        "[engine]\nworkers = 2\n".to_owned()
            + &config_text(&[
                ("app", &a, "02:00:00:00:01:01", "app"),
                ("db", &b, "02:00:00:00:02:01", "db"),
            ]),
    )
    .unwrap();
    let stats = dir.join("stats.json");
    let socket = dir.join("cnfwd.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--stats-interval", "0.2", "--config"])
        .arg(&cfg)
        .arg("--stats-json")
        .arg(&stats)
        .arg("--socket")
        .arg(&socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start cnfwd");
    let peer_a = Peer::open(&lab.ns, &ap);
    let peer_b = Peer::open(&lab.ns, &bp);
    // Send until cnfwd is up and forwarding (its sockets may not exist yet).
    let end = Instant::now() + Duration::from_secs(10);
    let mut got = 0u32;
    let mut sent = 0u32;
    while got < 50 && Instant::now() < end {
        peer_a.send(&ipv4_udp(
            MAC_A,
            HOST_A,
            None,
            [10, 1, 0, 10],
            [10, 2, 0, 20],
            64,
            sent,
        ));
        sent += 1;
        std::thread::sleep(Duration::from_millis(5));
        while let Some(f) = peer_b.try_recv() {
            if f[6..12] == MAC_B {
                got += 1;
            }
        }
    }
    assert!(got >= 50, "cnfwd forwarded only {got} of {sent}");
    // Let at least two rate lines (every 0.2 s) be printed.
    std::thread::sleep(Duration::from_millis(600));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().expect("cnfwd exits");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pkt/s"), "no rate line:\n{stdout}");
    assert!(
        stdout.contains("[w0 ") && stdout.contains(", w1 "),
        "no per-worker rates:\n{stdout}"
    );
    let table = stdout
        .lines()
        .skip_while(|l| !l.starts_with("worker"))
        .collect::<Vec<_>>();
    assert_eq!(table.len(), 3, "worker table with two workers:\n{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats written")).unwrap();
    let db_tx = json["ports"]["db"]["tx_packets"].as_u64().unwrap();
    assert!(db_tx >= u64::from(got), "db tx {db_tx} < received {got}");
    let n = |k: &str| json["totals"][k].as_u64().unwrap();
    assert_eq!(
        n("rx_packets") + n("replicated") + n("generated"),
        n("tx_packets") + n("dropped")
    );

    // --duration: stops by itself.
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--quiet", "--duration", "0.5", "--config"])
        .arg(&cfg)
        .arg("--socket")
        .arg(&socket)
        .status()
        .unwrap();
    assert!(status.success());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for a frame on `peer` whose destination MAC is `dst` (other frames
/// are skipped); None after `wait`.
fn recv_to(peer: &Peer, dst: [u8; 6], wait: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        match peer.try_recv() {
            Some(f) if f[..6] == dst => return Some(f),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    None
}

/// A running `cnfwd` answers every management command over its socket with
/// the right content, changes take effect on the wire, and `/metrics`
/// serves valid exposition text.
#[test]
fn cnfwd_serves_management_commands_and_metrics() {
    use dataplane::control::Client;
    use serde_json::json;

    if !can_run("cnfwd_serves_management_commands_and_metrics", &[]) {
        return;
    }
    let mut lab = Lab::new(8);
    let (a, ap) = lab.veth('a', true);
    let (b, bp) = lab.veth('b', true);
    let dir = std::env::temp_dir().join(format!("cnfwd-afp-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("ctl.toml");
    let socket = dir.join("ctl.sock");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n")
        + &config_text(&[
            ("app", &a, "02:00:00:00:01:01", "app"),
            ("db", &b, "02:00:00:00:02:01", "db"),
        ]);
    std::fs::write(&cfg, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cnfwd"))
        .args(["run", "--quiet", "--stats-interval", "0", "--config"])
        .arg(&cfg)
        .arg("--socket")
        .arg(&socket)
        .spawn()
        .expect("start cnfwd");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let end = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        match Client::connect(&socket, Duration::from_secs(5)) {
            Ok(c) => break c,
            Err(e) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("cnfwd exited: {status}");
                }
                assert!(Instant::now() < end, "no socket: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let _guard = Kill(child);
    let mut call = |cmd: &str, params: Option<serde_json::Value>| {
        c.call(cmd, params.as_ref())
            .expect("socket")
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    };
    let health = call("/health", None);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["workers"], 1);
    let ports = call("/ports", None);
    assert_eq!(ports[0]["name"], "app");
    assert_eq!(ports[0]["device"], a.as_str());
    assert_eq!(ports[0]["backend"], "af_packet");
    assert_eq!(ports[0]["mac"], "02:00:00:00:01:01");
    assert_eq!(ports[1]["name"], "db");
    assert_eq!(ports[1]["link"], "up");
    let nets = call("/networks", None);
    assert_eq!(nets[1]["name"], "db");
    assert_eq!(nets[1]["vlan"], 200);
    assert_eq!(nets[1]["ipv4"], "10.2.0.0/24 gw 10.2.0.1");
    let vrfs = call("/vrfs", None);
    assert_eq!(vrfs[0]["name"], "vrf1");
    assert_eq!(
        vrfs[0]["ipv4_routes"], 6,
        "two connected, two gateway, two directed broadcast"
    );
    let config = call("/config", None);
    assert_eq!(config["l3_networks"][0]["name"], "app");

    let peer_a = Peer::open(&lab.ns, &ap);
    let peer_b = Peer::open(&lab.ns, &bp);
    let send = |dst: [u8; 4], seq: u32| {
        peer_a.send(&ipv4_udp(MAC_A, HOST_A, None, [10, 1, 0, 10], dst, 64, seq));
    };
    // Before the route: dropped, counted.
    send([198, 51, 100, 5], 0);
    assert!(recv_to(&peer_b, HOST_B, Duration::from_millis(300)).is_none());
    // Route added live: forwarded to its next hop.
    let r = call(
        "/route/add",
        Some(json!({"vrf": "vrf1", "prefix": "198.51.100.0/24", "next_hop": "10.2.0.20"})),
    );
    assert_eq!(r["target"], "via 10.2.0.20 on db");
    let routes = call(
        "/routes",
        Some(json!({"vrf": "vrf1", "prefix": "198.51.0.0/16"})),
    );
    assert_eq!(routes["total"], 1, "{routes}");
    assert_eq!(routes["routes"][0]["next_hop"], "10.2.0.20");
    assert_eq!(routes["routes"][0]["origin"], "socket");
    call("/trace/start", Some(json!({"count": 3, "port": "app"})));
    for seq in 1..=3 {
        send([198, 51, 100, 5], seq);
        let f =
            recv_to(&peer_b, HOST_B, Duration::from_secs(2)).expect("forwarded by the new route");
        assert_eq!(f[6..12], MAC_B);
    }
    let trace = call("/trace/show", None);
    let pkts = trace["packets"].as_array().unwrap();
    assert_eq!(pkts.len(), 3, "{trace}");
    for p in pkts {
        assert_eq!(p["port"], "app");
        assert_eq!(p["network"], "app");
        assert_eq!(p["vrf"], "vrf1");
        assert_eq!(p["dst"], "198.51.100.5");
        assert_eq!(p["prefix"], "198.51.100.0/24");
        assert_eq!(p["next_hop"], "10.2.0.20");
        assert_eq!(p["verdict"], "tx");
        assert_eq!(p["egress_port"], "db");
    }
    // Removed: dropped again, as no_route.
    call(
        "/route/del",
        Some(json!({"vrf": "vrf1", "prefix": "198.51.100.0/24"})),
    );
    send([198, 51, 100, 5], 4);
    assert!(recv_to(&peer_b, HOST_B, Duration::from_millis(300)).is_none());
    let drops = call("/drops", None);
    let no_route = drops
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reason"] == "no_route")
        .map(|d| d["count"].as_u64().unwrap());
    assert_eq!(no_route, Some(2), "{drops}");

    // A neighbour added live: the connected destination resolves.
    let host_c = [0x02, 0xaa, 0, 0, 0x02, 0x30];
    call(
        "/neighbor/add",
        Some(json!({"network": "db", "ip": "10.2.0.30", "mac": "02:aa:00:00:02:30"})),
    );
    let neighbors = call("/neighbors", None);
    assert!(
        neighbors
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["ip"] == "10.2.0.30" && n["mac"] == "02:aa:00:00:02:30"),
        "{neighbors}"
    );
    send([10, 2, 0, 30], 5);
    recv_to(&peer_b, host_c, Duration::from_secs(2)).expect("sent to the new neighbour");

    // Errors name what was wrong; nothing changes.
    let e = c
        .call(
            "/route/add",
            Some(&json!({"vrf": "nope", "prefix": "10.9.0.0/16", "next_hop": "10.2.0.20"})),
        )
        .unwrap()
        .unwrap_err();
    assert!(e.contains("vrf \"nope\""), "{e}");
    let e = c
        .call(
            "/route/add",
            Some(&json!({"vrf": "vrf1", "prefix": "10.9.0.0/16", "next_hop": "10.7.0.1"})),
        )
        .unwrap()
        .unwrap_err();
    assert!(e.contains("not inside any connected prefix"), "{e}");
    let e = c
        .call(
            "/config/apply",
            Some(&json!({"toml": "[[l2_networks]]\nname = \"x\"\nvlan = 9999\n"})),
        )
        .unwrap()
        .unwrap_err();
    assert!(e.contains("l2_networks[0].vlan = 9999"), "{e}");

    // The running configuration, saved atomically, holds the neighbour.
    let mut call = |cmd: &str, params: Option<serde_json::Value>| {
        c.call(cmd, params.as_ref())
            .expect("socket")
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    };
    call("/config/save", None);
    let saved = cnfwd_config::load(&cfg).expect("saved file loads");
    assert!(saved.0.l3_networks[1]
        .neighbors
        .iter()
        .any(|n| n.ip.to_string() == "10.2.0.30"));
    assert!(saved.0.metrics.listen.is_some(), "whole configuration kept");

    // Counters: workers report, clear restarts them from zero.
    std::thread::sleep(Duration::from_millis(30));
    let workers = call("/workers", None);
    assert_eq!(workers[0]["rx_packets"], 6, "{workers}");
    let stats = call("/stats", None);
    assert_eq!(stats["ports"]["app"]["rx_packets"], 6);
    // Four forwarded, and the gratuitous ARP announcing db's gateway.
    assert_eq!(stats["ports"]["db"]["tx_packets"], 5);
    assert_eq!(stats["slow_path"]["announcements_sent"], 2);

    // Prometheus: the same counters, valid text.
    let body = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        out.split("\r\n\r\n").nth(1).unwrap().to_owned()
    };
    let sample = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{body}"))
    };
    assert_eq!(sample("cnfwd_port_rx_packets_total{port=\"app\"}"), 6.0);
    assert_eq!(sample("cnfwd_port_tx_packets_total{port=\"db\"}"), 5.0);
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }

    call("/stats/clear", None);
    let stats = call("/stats", None);
    assert_eq!(stats["totals"]["rx_packets"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The live engine with two pinned workers over AF_PACKET: fanout spreads
/// many flows over both, nothing is lost at a moderate rate, and every flow
/// leaves in the order it came.
#[test]
fn two_workers_forward_many_flows_without_loss_in_order() {
    use dataplane::live::{self, LiveOptions};
    use std::sync::atomic::{AtomicBool, Ordering};

    if !can_run("two_workers_forward_many_flows_without_loss_in_order", &[]) {
        return;
    }
    let mut lab = Lab::new(9);
    let (a, ap) = lab.veth('a', true);
    let (b, bp) = lab.veth('b', true);
    let text = "[engine]\nworkers = 2\n[control]\nenabled = false\n".to_owned()
        + &config_text(&[
            ("app", &a, "02:00:00:00:01:01", "app"),
            ("db", &b, "02:00:00:00:02:01", "db"),
        ]);
    let cfg = cnfwd_config::parse(&text, "<test>").unwrap();
    let r = cnfwd_config::resolve(&cfg).unwrap();
    let stop = AtomicBool::new(false);
    const FLOWS: u32 = 64;
    const PER_FLOW: u32 = 50;
    let peer_a = Peer::open(&lab.ns, &ap);
    let peer_b = Peer::open(&lab.ns, &bp);
    let report = std::thread::scope(|s| {
        let run = s.spawn(|| live::run_af_packet(&r, &LiveOptions::default(), &stop, |_| {}));
        // The engine stops even when an assertion below fails.
        let _stop = StopOnDrop(&stop);
        // Wait until cnfwd forwards (its sockets may not be open yet).
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            peer_a.send(&ipv4_udp(
                MAC_A,
                HOST_A,
                None,
                [10, 1, 0, 9],
                [10, 2, 0, 20],
                64,
                0,
            ));
            if recv_to(&peer_b, HOST_B, Duration::from_millis(50)).is_some() {
                break;
            }
            assert!(Instant::now() < end, "cnfwd never forwarded");
        }
        while recv_to(&peer_b, HOST_B, Duration::from_millis(50)).is_some() {}
        // The receiver reads while the sender sends (a socket buffer holds
        // only a few hundred frames).
        let receiver = s.spawn(|| {
            let mut next = vec![1u32; FLOWS as usize];
            let mut got = 0;
            let mut disorder = Vec::new();
            while let Some(f) = recv_to(&peer_b, HOST_B, Duration::from_millis(1000)) {
                let flow = f[29].wrapping_sub(10) as usize;
                if flow >= FLOWS as usize {
                    continue; // a late warm-up packet
                }
                let seq = u32::from_be_bytes(f[51..55].try_into().unwrap());
                if seq != next[flow] {
                    disorder.push((flow, next[flow], seq));
                }
                next[flow] = seq + 1;
                got += 1;
            }
            (got, disorder)
        });
        // 3,200 packets at about 30,000 packets/s.
        for seq in 0..PER_FLOW {
            for flow in 0..FLOWS {
                let src = [10, 1, 0, 10 + flow as u8];
                peer_a.send(&ipv4_udp(
                    MAC_A,
                    HOST_A,
                    None,
                    src,
                    [10, 2, 0, 20],
                    64,
                    seq + 1,
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (got, disorder) = receiver.join().unwrap();
        assert!(
            disorder.is_empty(),
            "flows out of order (flow, expected, got): {disorder:?}"
        );
        stop.store(true, Ordering::Relaxed);
        let report = run.join().unwrap().expect("live run");
        (got, report)
    });
    let (got, report) = report;
    assert_eq!(
        got,
        FLOWS * PER_FLOW,
        "packets lost; cnfwd counted {:?}, workers {:?}",
        report.stats.totals(),
        report
            .workers
            .iter()
            .map(|w| w.stats.totals())
            .collect::<Vec<_>>()
    );
    assert_eq!(report.workers.len(), 2);
    for w in &report.workers {
        let (rx, tx, _) = w.stats.totals();
        assert!(
            rx > 0 && tx > 0,
            "worker {} idle: fanout did not spread the flows",
            w.id
        );
    }
    assert_eq!(report.stats.totals().2, 0, "nothing dropped");
}

/// CSN with two workers over AF_PACKET: flows leave through the CSN on
/// whichever worker fanout gives them, and their replies come back in on
/// the other port. Each worker holds only its own flows, so this works only
/// if `PACKET_FANOUT_HASH` hashes both directions of a flow alike: every
/// reply must be forwarded, none dropped as `csn_no_flow`.
#[test]
fn csn_replies_reach_the_worker_that_holds_the_flow() {
    use dataplane::live::{self, LiveOptions};
    use std::sync::atomic::{AtomicBool, Ordering};

    if !can_run("csn_replies_reach_the_worker_that_holds_the_flow", &[]) {
        return;
    }
    let mut lab = Lab::new(10);
    let (a, ap) = lab.veth('a', true);
    let (c, cp) = lab.veth('c', true);
    const CSN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x09, 0x01];
    const GW_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0x09, 0xfe];
    let text = format!(
        r#"
[engine]
workers = 2
[control]
enabled = false
[[l3_isolation_domains]]
name = "vrf1"
static_routes = [{{ prefix = "0.0.0.0/0", next_hop = "10.9.0.254" }}]
[[l3_networks]]
name = "app"
vlan = 100
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [{{ ip = "10.1.0.10", mac = "02:aa:00:00:01:10" }}]
[[l3_networks]]
name = "csn"
vlan = 900
l3_isolation_domain = "vrf1"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.9.0.0/24"
neighbors = [{{ ip = "10.9.0.254", mac = "02:cc:00:00:09:fe" }}]
[[ports]]
name = "app"
backend = "af_packet"
interface = "{a}"
mac = "02:00:00:00:01:01"
mode = "access"
networks = ["app"]
[[ports]]
name = "csn"
backend = "af_packet"
interface = "{c}"
mac = "02:00:00:00:09:01"
mode = "access"
networks = ["csn"]
[cloud_services_network]
network = "csn"
enable_default_egress_endpoints = false
additional_egress_endpoints = [{{ category = "t", endpoints = [{{ domain_name = "198.51.100.0/24" }}] }}]
"#
    );
    let cfg = cnfwd_config::parse(&text, "<test>").unwrap();
    let r = cnfwd_config::resolve(&cfg).unwrap();
    let stop = AtomicBool::new(false);
    const FLOWS: u16 = 64;
    let peer_a = Peer::open(&lab.ns, &ap);
    let peer_c = Peer::open(&lab.ns, &cp);
    let out = |sport: u16, seq: u32| {
        ipv4_udp_ports(
            MAC_A,
            HOST_A,
            None,
            ([10, 1, 0, 10], sport),
            ([198, 51, 100, 7], 53),
            64,
            seq,
        )
    };
    let (replies, report) = std::thread::scope(|s| {
        let run = s.spawn(|| live::run_af_packet(&r, &LiveOptions::default(), &stop, |_| {}));
        let _stop = StopOnDrop(&stop);
        // Until cnfwd forwards (a warm-up flow of its own).
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            peer_a.send(&out(1999, 0));
            if recv_to(&peer_c, GW_MAC, Duration::from_millis(50)).is_some() {
                break;
            }
            assert!(Instant::now() < end, "cnfwd never forwarded");
        }
        while recv_to(&peer_c, GW_MAC, Duration::from_millis(50)).is_some() {}
        for i in 0..FLOWS {
            peer_a.send(&out(2000 + i, u32::from(i)));
            std::thread::sleep(Duration::from_millis(1));
        }
        // The far side answers each flow it sees, ports swapped.
        let mut answered = 0;
        while let Some(f) = recv_to(&peer_c, GW_MAC, Duration::from_millis(500)) {
            let sport = u16::from_be_bytes([f[34], f[35]]);
            if !(2000..2000 + FLOWS).contains(&sport) {
                continue;
            }
            peer_c.send(&ipv4_udp_ports(
                CSN_MAC,
                GW_MAC,
                None,
                ([198, 51, 100, 7], 53),
                ([10, 1, 0, 10], sport),
                64,
                0,
            ));
            answered += 1;
        }
        assert_eq!(answered, FLOWS, "every flow left through the CSN");
        let mut replies = 0;
        while let Some(f) = recv_to(&peer_a, HOST_A, Duration::from_millis(500)) {
            if f[6..12] == MAC_A && f[23] == 17 {
                replies += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        (replies, run.join().unwrap().expect("live run"))
    });
    let drops = report.stats.drops();
    let no_flow = dataplane::pipeline::DropReason::ALL
        .iter()
        .position(|r| r.name() == "csn_no_flow")
        .map(|i| drops[i]);
    assert_eq!(
        no_flow,
        Some(0),
        "replies reached a worker without the flow"
    );
    assert_eq!(replies, FLOWS, "every reply forwarded back");
    for w in &report.workers {
        assert!(
            w.stats.totals().0 > 0,
            "worker {} got nothing: fanout did not spread",
            w.id
        );
    }
}
