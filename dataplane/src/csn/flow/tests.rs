use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

const S: u64 = 1_000_000_000;

fn t() -> FlowTimeouts {
    FlowTimeouts::default()
}

fn v4(vrf: u16, proto: u8, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> FlowKey {
    FlowKey::new(
        vrf,
        proto,
        IpAddr::from(src),
        IpAddr::from(dst),
        sport,
        dport,
    )
    .unwrap()
}

#[test]
fn entry_is_one_cache_line() {
    assert_eq!(std::mem::size_of::<Entry>(), 64);
    assert_eq!(std::mem::align_of::<Entry>(), 64);
    let table = FlowTable::new(1_000_000, t(), 1);
    assert_eq!(table.memory_bytes(), 1_250_001 * 68);
}

#[test]
fn tcp_lifecycle() {
    let to = t();
    let mut ft = FlowTable::new(16, to, 7);
    let k = v4(1, 6, [10, 0, 0, 1], 40000, [203, 0, 113, 7], 443);
    let r = k.reversed();
    assert_eq!(ft.insert(&k, SYN, 3, 0), Ok(Inserted::Created));
    assert_eq!(ft.lookup(&k, 0).unwrap().state, TcpState::SynSent);
    // Half-open: gone after the SYN-sent timeout.
    assert!(ft.lookup(&k, to.tcp_syn_sent).is_none());
    let h = ft.track(&r, SYN | ACK, S).unwrap();
    assert_eq!(
        (h.dir, h.state, h.rule),
        (Direction::Reply, TcpState::SynRecv, 3)
    );
    let h = ft.track(&k, ACK, 2 * S).unwrap();
    assert_eq!(
        (h.dir, h.state),
        (Direction::Original, TcpState::Established)
    );
    assert!(ft.lookup(&r, 2 * S + to.tcp_established - 1).is_some());
    let h = ft.track(&k, FIN | ACK, 3 * S).unwrap();
    assert_eq!(h.state, TcpState::FinWait);
    assert!(ft.lookup(&k, 3 * S + to.tcp_fin_wait).is_none());
    let h = ft.track(&r, FIN | ACK, 4 * S).unwrap();
    assert_eq!((h.dir, h.state), (Direction::Reply, TcpState::Closing));
    assert!(ft.lookup(&k, 4 * S + to.tcp_closing - 1).is_some());
    assert!(ft.track(&k, ACK, 4 * S + to.tcp_closing).is_none());
    assert!(ft.is_empty(), "lazy expiry removed it");
    assert_eq!(ft.stats().expired, 1);
}

#[test]
fn rst_and_reopen() {
    let to = t();
    let mut ft = FlowTable::new(16, to, 7);
    let k = v4(1, 6, [10, 0, 0, 1], 40000, [203, 0, 113, 7], 443);
    ft.insert(&k, SYN, 0, 0).unwrap();
    ft.track(&k.reversed(), SYN | ACK, 0).unwrap();
    ft.track(&k, ACK, 0).unwrap();
    assert_eq!(
        ft.track(&k.reversed(), RST, S).unwrap().state,
        TcpState::Closed
    );
    assert!(ft.lookup(&k, S + to.tcp_close).is_none());
    // A new SYN on the closed flow reopens it.
    assert_eq!(ft.track(&k, SYN, 2 * S).unwrap().state, TcpState::SynSent);
    // RST as the first packet: tracked as closed, short-lived.
    let k2 = v4(1, 6, [10, 0, 0, 1], 40001, [203, 0, 113, 7], 443);
    ft.insert(&k2, RST | ACK, 0, 0).unwrap();
    assert_eq!(ft.lookup(&k2, 0).unwrap().state, TcpState::Closed);
    assert!(ft.lookup(&k2, to.tcp_close).is_none());
}

#[test]
fn mid_stream_pickup_needs_a_reply_for_the_long_timeout() {
    let to = t();
    let mut ft = FlowTable::new(16, to, 7);
    let k = v4(1, 6, [10, 0, 0, 1], 40000, [203, 0, 113, 7], 443);
    ft.insert(&k, ACK, 0, 0).unwrap();
    assert!(ft.lookup(&k, to.tcp_syn_sent).is_none());
    ft.track(&k, ACK, 0).unwrap();
    ft.track(&k.reversed(), ACK, 0).unwrap();
    assert!(ft.lookup(&k, to.tcp_syn_sent).is_some());
    assert!(ft.lookup(&k, to.tcp_established).is_none());
}

#[test]
fn udp_icmp_idle_and_isolation() {
    let to = t();
    let mut ft = FlowTable::new(16, to, 7);
    let u = v4(1, 17, [10, 0, 0, 1], 5353, [198, 51, 100, 1], 53);
    ft.insert(&u, 0, 0, 0).unwrap();
    assert!(ft.lookup(&u, to.udp - 1).is_some());
    assert!(ft.lookup(&u, to.udp).is_none());
    ft.track(&u.reversed(), 0, 1).unwrap();
    assert!(ft.lookup(&u, 1 + to.udp_stream - 1).is_some());
    // Another VRF, protocol or port is another flow.
    assert!(ft.lookup(&FlowKey { vrf: 2, ..u }, 1).is_none());
    assert!(ft.lookup(&FlowKey { proto: 6, ..u }, 1).is_none());
    assert!(ft.lookup(&FlowKey { sport: 5354, ..u }, 1).is_none());
    // Echo request and reply: identifier as both ports.
    let e = FlowKey::icmp_echo(1, false, 0x0a00_0001, 0xc633_6401, 77);
    ft.insert(&e, 0, 0, 0).unwrap();
    let back = FlowKey::icmp_echo(1, false, 0xc633_6401, 0x0a00_0001, 77);
    assert_eq!(ft.track(&back, 0, 1).unwrap().dir, Direction::Reply);
    assert!(ft.lookup(&e, 1 + to.icmp).is_none());
    // IPv6.
    let k6 = FlowKey::new(
        1,
        17,
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
        1,
        2,
    )
    .unwrap();
    ft.insert(&k6, 0, 5, 0).unwrap();
    assert_eq!(ft.lookup(&k6.reversed(), 0).unwrap().rule, 5);
    assert!(FlowKey::new(
        1,
        17,
        "::1".parse().unwrap(),
        "10.0.0.1".parse().unwrap(),
        1,
        2
    )
    .is_none());
    let flows: Vec<_> = ft.iter(1).map(|(k, _, _)| k).collect();
    assert!(flows.contains(&k6) && flows.contains(&u) && flows.contains(&e));
}

#[test]
fn full_table_refuses_then_reclaims() {
    let to = t();
    let mut ft = FlowTable::new(8, to, 7);
    for p in 0..8 {
        ft.insert(&v4(0, 17, [10, 0, 0, 1], p, [10, 0, 0, 2], 53), 0, 0, 0)
            .unwrap();
    }
    let extra = v4(0, 17, [10, 0, 0, 1], 100, [10, 0, 0, 2], 53);
    assert_eq!(
        ft.insert(&extra, 0, 0, 1),
        Err(FlowError::Full { capacity: 8 })
    );
    assert_eq!(ft.stats().refused_full, 1);
    // Existing flows keep working.
    assert!(ft
        .track(&v4(0, 17, [10, 0, 0, 2], 53, [10, 0, 0, 1], 3), 0, 2)
        .is_some());
    // Once they expire, an insert reclaims them first.
    assert_eq!(ft.insert(&extra, 0, 0, to.udp + 1), Ok(Inserted::Created));
    assert!(ft.len() < 8);
}

#[test]
fn incremental_expiry_is_bounded() {
    let mut ft = FlowTable::new(1000, t(), 9);
    for p in 0..1000 {
        ft.insert(&v4(0, 17, [10, 0, 0, 1], p, [10, 0, 0, 2], 53), 0, 0, 0)
            .unwrap();
    }
    let later = t().udp;
    let first = ft.expire(later, 100);
    assert!(first <= 100);
    let mut total = first;
    while total < 1000 {
        let n = ft.expire(later, 100);
        assert!(n <= 100);
        total += n;
    }
    assert!(ft.is_empty());
    assert_eq!(ft.stats().expired, 1000);
}

#[test]
fn burst_equals_single() {
    let mut a = FlowTable::new(256, t(), 3);
    let mut b = FlowTable::new(256, t(), 3);
    let keys: Vec<FlowKey> = (0..100)
        .map(|i| v4(0, 6, [10, 0, 0, (i % 7) as u8], i, [192, 0, 2, 1], 443))
        .collect();
    for k in keys.iter().step_by(2) {
        a.insert(k, SYN, 1, 0).unwrap();
        b.insert(k, SYN, 1, 0).unwrap();
    }
    let rev: Vec<FlowKey> = keys.iter().map(|k| k.reversed()).collect();
    let flags = vec![SYN | ACK; rev.len()];
    let mut out = vec![None; rev.len()];
    a.track_burst(&rev, &flags, 1, &mut out);
    let single: Vec<_> = rev.iter().map(|k| b.track(k, SYN | ACK, 1)).collect();
    assert_eq!(out, single);
    assert_eq!(out.iter().filter(|h| h.is_some()).count(), 50);
}

fn ipv4_header(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 60, 0, 1];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

#[test]
fn icmp_error_quotes() {
    // Port unreachable about our UDP 10.0.0.1:5353 -> 198.51.100.1:53.
    let mut q = ipv4_header(17, [10, 0, 0, 1], [198, 51, 100, 1], 0);
    q.extend_from_slice(&[0x14, 0xe9, 0, 53, 0, 20, 0, 0]);
    let k = key_from_icmp_error(4, false, &q).unwrap();
    assert_eq!(k, v4(4, 17, [10, 0, 0, 1], 5353, [198, 51, 100, 1], 53));
    let mut ft = FlowTable::new(4, t(), 1);
    ft.insert(&k, 0, 0, 0).unwrap();
    assert_eq!(ft.lookup(&k, 0).unwrap().dir, Direction::Original);
    // Truncated before the ports, non-first fragment, options, wrong family.
    assert!(matches!(
        key_from_icmp_error(4, false, &q[..27]),
        Err(QuoteError::Truncated { .. })
    ));
    let mut f = ipv4_header(17, [10, 0, 0, 1], [198, 51, 100, 1], 0x0010);
    f.extend_from_slice(&[0; 8]);
    assert_eq!(key_from_icmp_error(4, false, &f), Err(QuoteError::Fragment));
    let mut o = q.clone();
    o[0] = 0x46;
    o.splice(20..20, [1, 1, 1, 1]);
    assert_eq!(key_from_icmp_error(4, false, &o).unwrap(), k);
    assert_eq!(
        key_from_icmp_error(4, true, &q),
        Err(QuoteError::BadVersion { version: 4 })
    );
    let mut bad = q.clone();
    bad[0] = 0x44;
    assert_eq!(
        key_from_icmp_error(4, false, &bad),
        Err(QuoteError::BadHeaderLength { ihl: 4 })
    );
    // Quoted echo request: identifier as both ports; an echo reply is refused.
    let mut e = ipv4_header(1, [10, 0, 0, 1], [198, 51, 100, 1], 0);
    e.extend_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
    assert_eq!(
        key_from_icmp_error(4, false, &e).unwrap(),
        FlowKey::icmp_echo(4, false, 0x0a00_0001, 0xc633_6401, 0x1234)
    );
    e[20] = 0;
    assert_eq!(
        key_from_icmp_error(4, false, &e),
        Err(QuoteError::NotEcho { icmp_type: 0 })
    );
    // IPv6 with a destination-options header, TCP.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 28, 60, 64];
    v6.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
    v6.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    v6.extend_from_slice(&[0x9c, 0x40, 1, 0xbb, 0, 0, 0, 0]);
    let k6 = key_from_icmp_error(0, true, &v6).unwrap();
    assert_eq!((k6.proto, k6.sport, k6.dport), (6, 40000, 443));
    assert!(key_from_icmp_error(0, true, &v6[..50]).is_err());
    assert!(key_from_icmp_error(0, true, &[]).is_err());
}

proptest! {
    #[test]
    fn icmp_quote_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120), v6 in any::<bool>()) {
        let _ = key_from_icmp_error(0, v6, &bytes);
    }
}

/// The model's canonical key: (low address, low port, high port, high
/// address, protocol) with the pool's one-byte addresses.
type ModelKey = (u8, u16, u16, u8, u8);

/// Reference model: canonical key -> (original key, expires, replied).
#[derive(Default)]
struct Model {
    flows: HashMap<ModelKey, (FlowKey, u64, bool)>,
}

fn model_key(k: &FlowKey) -> ModelKey {
    let (lo, hi) = if (k.src, k.sport) <= (k.dst, k.dport) {
        ((k.src as u8, k.sport), (k.dst as u8, k.dport))
    } else {
        ((k.dst as u8, k.dport), (k.src as u8, k.sport))
    };
    (lo.0, lo.1, hi.1, hi.0, k.proto)
}

impl Model {
    fn timeout(to: &FlowTimeouts, k: &FlowKey, replied: bool) -> u64 {
        match k.proto {
            17 if replied => to.udp_stream,
            17 => to.udp,
            1 => to.icmp,
            _ => to.other,
        }
    }
    fn alive(&self, now: u64) -> usize {
        self.flows.values().filter(|f| f.1 > now).count()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize),
    Track(usize, bool),
    Lookup(usize, bool),
    Advance(u64),
    Expire(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0usize..40).prop_map(Op::Insert),
            3 => (0usize..40, any::<bool>()).prop_map(|(k, r)| Op::Track(k, r)),
            2 => (0usize..40, any::<bool>()).prop_map(|(k, r)| Op::Lookup(k, r)),
            1 => (0u64..200).prop_map(Op::Advance),
            1 => (1usize..30).prop_map(Op::Expire),
        ],
        1..300,
    )
}

fn pool_key(i: usize) -> FlowKey {
    // 40 distinct keys over 4 addresses, 3 ports, 3 protocols: many share
    // endpoints (and collide in a small table).
    let proto = [17u8, 1, 47][i % 3];
    let a = (i / 3 % 4) as u128;
    let b = ((i / 12) % 4) as u128;
    let port = (i % 3) as u16 + 1;
    FlowKey {
        vrf: 0,
        v6: false,
        proto,
        src: a,
        dst: b,
        sport: port,
        dport: 53,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn flow_table_matches_model(ops in ops(), capacity in 1usize..24) {
        let to = FlowTimeouts {
            udp: 30 * S,
            udp_stream: 120 * S,
            icmp: 50 * S,
            other: 70 * S,
            ..FlowTimeouts::default()
        };
        let mut ft = FlowTable::new(capacity, to, 42);
        // Reclaim scans the whole table, so "full" means full of live flows.
        ft.set_reclaim_budget(usize::MAX);
        let mut m = Model::default();
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Insert(i) => {
                    let k = pool_key(i);
                    let mk = model_key(&k);
                    let live = m.flows.get(&mk).filter(|f| f.1 > now).cloned();
                    let got = ft.insert(&k, 0, i as u32, now);
                    match live {
                        Some((orig, _, replied)) => {
                            let replied = replied || orig != k;
                            let dir = if orig == k { Direction::Original } else { Direction::Reply };
                            prop_assert!(matches!(got, Ok(Inserted::Existing(h)) if h.dir == dir));
                            m.flows.insert(mk, (orig, now + Model::timeout(&to, &k, replied), replied));
                        }
                        None if m.alive(now) >= capacity => {
                            prop_assert_eq!(got, Err(FlowError::Full { capacity }));
                        }
                        None => {
                            prop_assert_eq!(got, Ok(Inserted::Created));
                            m.flows.insert(mk, (k, now + Model::timeout(&to, &k, false), false));
                        }
                    }
                }
                Op::Track(i, rev) | Op::Lookup(i, rev) => {
                    let k = if rev { pool_key(i).reversed() } else { pool_key(i) };
                    let mk = model_key(&k);
                    let live = m.flows.get(&mk).filter(|f| f.1 > now).cloned();
                    let got = if matches!(op, Op::Track(..)) {
                        ft.track(&k, 0, now)
                    } else {
                        ft.lookup(&k, now)
                    };
                    match live {
                        None => prop_assert!(got.is_none()),
                        Some((orig, exp, replied)) => {
                            let h = got.expect("model has a live flow");
                            let dir = if orig == k { Direction::Original } else { Direction::Reply };
                            prop_assert_eq!(h.dir, dir);
                            prop_assert_eq!(h.rule as usize, model_rule(&orig));
                            if matches!(op, Op::Track(..)) {
                                let replied = replied || dir == Direction::Reply;
                                m.flows.insert(mk, (orig, now + Model::timeout(&to, &k, replied), replied));
                            } else {
                                m.flows.insert(mk, (orig, exp, replied));
                            }
                        }
                    }
                }
                Op::Advance(s) => now += s * S / 2,
                Op::Expire(budget) => {
                    let before = ft.len();
                    let n = ft.expire(now, budget);
                    prop_assert!(n <= budget);
                    prop_assert_eq!(ft.len(), before - n);
                }
            }
            prop_assert!(ft.len() >= m.alive(now));
            prop_assert!(ft.len() <= capacity);
            let listed = ft.iter(now).count();
            prop_assert_eq!(listed, m.alive(now));
        }
        // A full sweep leaves exactly the live flows.
        ft.expire(now, usize::MAX / 2);
        prop_assert_eq!(ft.len(), m.alive(now));
    }
}

/// The rule a pool key was inserted with: its pool index (keys are unique
/// per index, so the original key identifies it).
fn model_rule(orig: &FlowKey) -> usize {
    (0..40).find(|&i| pool_key(i) == *orig).unwrap()
}
