//! Building the profile's packets: one template per frame size, patched per
//! packet with the flow's addresses and ports, the stamp, and checksums
//! (IPv4 header, UDP/TCP over the pseudo-header; the padding after the stamp
//! is zero, so it adds nothing to the sum and is never summed).
//!
//! Packet `k` of a run belongs to flow `k mod flows` (round robin), has
//! sequence number `k div flows` in it, and the size `sizes[k mod len]`.

use std::net::IpAddr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::profile::{host_count, nth_host, Destinations, IpVersion, Profile, FCS, L4};
use super::stamp::{Stamp, STAMP_LEN};

/// One flow's addresses and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP/TCP source port.
    pub src_port: u16,
}

/// The packets of a profile, ready to be stamped.
#[derive(Debug, Clone)]
pub struct Traffic {
    templates: Vec<Vec<u8>>,
    /// Flows, by index.
    pub flows: Vec<Flow>,
    ip_off: usize,
    l4_off: usize,
    ip: IpVersion,
    l4: L4,
    /// The receiver matches on this destination port.
    pub dst_port: u16,
}

impl Traffic {
    /// Builds the templates and flows of `profile`, from `src_mac` to
    /// `dst_mac`.
    pub fn new(profile: &Profile, src_mac: [u8; 6], dst_mac: [u8; 6]) -> Traffic {
        let ip_off = 14 + if profile.vlan.is_some() { 4 } else { 0 };
        let ip_len = match profile.ip {
            IpVersion::Ipv4 => 20,
            IpVersion::Ipv6 => 40,
        };
        let l4_off = ip_off + ip_len;
        let templates = profile
            .sizes
            .iter()
            .map(|&size| {
                let len = size - FCS;
                let mut f = vec![0u8; len];
                f[0..6].copy_from_slice(&dst_mac);
                f[6..12].copy_from_slice(&src_mac);
                let mut off = 12;
                if let Some(vlan) = profile.vlan {
                    f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
                    f[14..16].copy_from_slice(&vlan.to_be_bytes());
                    off = 16;
                }
                let proto = match profile.l4 {
                    L4::Udp => 17u8,
                    L4::Tcp => 6,
                };
                let l4_len = (len - l4_off) as u16;
                match profile.ip {
                    IpVersion::Ipv4 => {
                        f[off..off + 2].copy_from_slice(&0x0800u16.to_be_bytes());
                        let h = &mut f[ip_off..ip_off + 20];
                        h[0] = 0x45;
                        h[2..4].copy_from_slice(&(l4_len + 20).to_be_bytes());
                        h[6] = 0x40; // DF
                        h[8] = 64;
                        h[9] = proto;
                    }
                    IpVersion::Ipv6 => {
                        f[off..off + 2].copy_from_slice(&0x86ddu16.to_be_bytes());
                        let h = &mut f[ip_off..ip_off + 40];
                        h[0] = 0x60;
                        h[4..6].copy_from_slice(&l4_len.to_be_bytes());
                        h[6] = proto;
                        h[7] = 64;
                    }
                }
                let l = &mut f[l4_off..];
                l[2..4].copy_from_slice(&profile.dst_port.to_be_bytes());
                match profile.l4 {
                    L4::Udp => l[4..6].copy_from_slice(&l4_len.to_be_bytes()),
                    L4::Tcp => {
                        l[12] = 5 << 4;
                        l[13] = 0x10; // ACK
                        l[14..16].copy_from_slice(&65535u16.to_be_bytes());
                    }
                }
                f
            })
            .collect();
        Traffic {
            templates,
            flows: make_flows(profile),
            ip_off,
            l4_off,
            ip: profile.ip,
            l4: profile.l4,
            dst_port: profile.dst_port,
        }
    }

    /// Number of distinct frame templates (the profile's size cycle).
    pub fn cycle(&self) -> usize {
        self.templates.len()
    }

    /// The template of packet `k` (to copy into a buffer).
    pub fn template(&self, k: u64) -> &[u8] {
        &self.templates[(k % self.templates.len() as u64) as usize]
    }

    /// The flow and sequence number of packet `k`.
    pub fn flow_seq(&self, k: u64) -> (u32, u32) {
        let n = self.flows.len() as u64;
        ((k % n) as u32, (k / n) as u32)
    }

    /// Fills in packet `k` sent at `sent_ns`: `frame` must be a copy of
    /// [`Traffic::template`]`(k)`.
    pub fn patch(&self, frame: &mut [u8], k: u64, sent_ns: u64) {
        let (flow, seq) = self.flow_seq(k);
        let fl = self.flows[flow as usize];
        let (ip_off, l4_off) = (self.ip_off, self.l4_off);
        let l4_len = frame.len() - l4_off;
        let mut pseudo = 0u32;
        match (self.ip, fl.src, fl.dst) {
            (IpVersion::Ipv4, IpAddr::V4(s), IpAddr::V4(d)) => {
                let h = &mut frame[ip_off..ip_off + 20];
                h[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
                h[12..16].copy_from_slice(&s.octets());
                h[16..20].copy_from_slice(&d.octets());
                h[10..12].copy_from_slice(&[0, 0]);
                let c = !fold(sum(0, h));
                h[10..12].copy_from_slice(&c.to_be_bytes());
                pseudo = sum(sum(pseudo, &s.octets()), &d.octets());
            }
            (IpVersion::Ipv6, IpAddr::V6(s), IpAddr::V6(d)) => {
                let h = &mut frame[ip_off..ip_off + 40];
                h[8..24].copy_from_slice(&s.octets());
                h[24..40].copy_from_slice(&d.octets());
                pseudo = sum(sum(pseudo, &s.octets()), &d.octets());
            }
            _ => {}
        }
        let proto = match self.l4 {
            L4::Udp => 17u32,
            L4::Tcp => 6,
        };
        pseudo += proto + l4_len as u32;
        let (hlen, csum_at) = match self.l4 {
            L4::Udp => (8, 6),
            L4::Tcp => (20, 16),
        };
        let l = &mut frame[l4_off..];
        l[0..2].copy_from_slice(&fl.src_port.to_be_bytes());
        if self.l4 == L4::Tcp {
            l[4..8].copy_from_slice(&seq.to_be_bytes());
        }
        Stamp { flow, seq, sent_ns }.write(&mut l[hlen..hlen + STAMP_LEN]);
        l[csum_at..csum_at + 2].copy_from_slice(&[0, 0]);
        let mut c = !fold(sum(pseudo, &l[..hlen + STAMP_LEN]));
        if c == 0 && self.l4 == L4::Udp {
            c = 0xffff;
        }
        l[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

fn sum(mut acc: u32, b: &[u8]) -> u32 {
    let mut it = b.chunks_exact(2);
    for w in &mut it {
        acc += u16::from_be_bytes([w[0], w[1]]) as u32;
    }
    if let [last] = it.remainder() {
        acc += (*last as u32) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The flows of `p`: flow `i` goes to destination `i mod D`, from source
/// `(i / D) mod S`, source port `src_port + (i / (D*S)) mod span`.
fn make_flows(p: &Profile) -> Vec<Flow> {
    let dsts: Vec<IpAddr> = match &p.dst {
        Destinations::Prefix(n) => {
            let count = host_count(*n).min(p.flows as u64);
            (0..count).map(|i| nth_host(*n, i)).collect()
        }
        Destinations::Routes(routes) => {
            let mut rng = SmallRng::seed_from_u64(0x00c0_ffee);
            routes
                .iter()
                .take(p.flows)
                .map(|n| nth_host(*n, rng.gen_range(0..host_count(*n))))
                .collect()
        }
    };
    let d = dsts.len() as u64;
    let s = host_count(p.src).min(p.flows as u64);
    let span = (65536 - p.src_port as u64).max(1);
    (0..p.flows as u64)
        .map(|i| Flow {
            dst: dsts[(i % d) as usize],
            src: nth_host(p.src, (i / d) % s),
            src_port: p.src_port + ((i / (d * s)) % span) as u16,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stamp::find;

    fn check(p: &Profile) {
        let t = Traffic::new(p, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        for k in 0..50u64 {
            let mut f = t.template(k).to_vec();
            t.patch(&mut f, k, 12345 + k);
            assert_eq!(f.len() + FCS, p.sizes[(k % p.sizes.len() as u64) as usize]);
            let s = find(&f, p.dst_port).expect("stamp found");
            assert_eq!(
                (s.flow, s.seq, s.sent_ns),
                (t.flow_seq(k).0, t.flow_seq(k).1, 12345 + k)
            );
            // The L4 checksum over pseudo-header + segment verifies to 0.
            let ip = if p.vlan.is_some() { 18 } else { 14 };
            let (l4, mut acc, proto) = match p.ip {
                IpVersion::Ipv4 => {
                    assert_eq!(
                        fold(sum(0, &f[ip..ip + 20])),
                        0xffff,
                        "IPv4 header checksum"
                    );
                    (ip + 20, sum(0, &f[ip + 12..ip + 20]), f[ip + 9])
                }
                IpVersion::Ipv6 => (ip + 40, sum(0, &f[ip + 8..ip + 40]), f[ip + 6]),
            };
            acc += proto as u32 + (f.len() - l4) as u32;
            assert_eq!(fold(sum(acc, &f[l4..])), 0xffff, "L4 checksum, packet {k}");
        }
    }

    #[test]
    fn frames_carry_stamps_and_valid_checksums() {
        let mut p = Profile {
            flows: 7,
            ..Profile::default()
        };
        check(&p);
        p.sizes = vec![76, 594, 1518];
        p.vlan = Some(100);
        p.l4 = L4::Tcp;
        check(&p);
        let p6 = Profile::parse(
            "[flows]\nip = \"ipv6\"\ncount = 5\n[frames]\nsizes = [80, 81]",
            "t",
        )
        .expect("profile");
        check(&p6);
    }
}
