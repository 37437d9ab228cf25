//! A worker's hold: packets whose next hop has no MAC wait here, already
//! rewritten for their egress but for the destination MAC, while the
//! worker resolves the next hop (requests `neighbor_retry_ms` apart, at most
//! `neighbor_tries`, a new resolution of one address at most once per
//! millisecond). When the address is learned the packets leave in the order
//! they came; when it is not, they are handed back to be dropped
//! (`neighbor_unresolved`) and answered with host unreachable.
//!
//! Sizes are fixed at start: [`MAX_PENDING`] addresses and
//! `neighbor_hold_total` packets per worker; the hold is one ring in
//! arrival order, so releasing keeps order without any allocation.

use std::collections::VecDeque;

use cnfwd_config::{NetworkId, PortId, SlowPathSettings};

/// Addresses one worker resolves at once.
pub const MAX_PENDING: usize = 256;

/// One address being resolved.
#[derive(Debug, Clone, Copy)]
struct Pending {
    network: NetworkId,
    ip: u128,
    port: PortId,
    /// When the last request went out (ns).
    last_ns: u64,
    /// Requests sent.
    tries: u32,
    /// Packets held for it.
    held: u32,
}

/// A held packet and what its release or failure needs.
#[derive(Debug)]
pub struct Held<T> {
    /// The frame, rewritten for the egress but for the destination MAC.
    pub buf: T,
    /// Where it goes.
    pub port: PortId,
    /// Its egress network.
    pub network: NetworkId,
    /// The port it was received on (its drop is counted there).
    pub in_port: PortId,
    /// The network it came from (its error goes out from there).
    pub in_network: NetworkId,
    /// True for a packet cnfwd generated (no error is sent about it).
    pub local: bool,
    /// The MTU it is fragmented for when sent (0: sent whole).
    pub frag_mtu: u16,
    slot: u16,
}

/// What [`Resolver::hold`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldResult {
    /// Held; send a request for the address now.
    HeldSendRequest,
    /// Held; a request is already out.
    Held,
    /// Not held: the hold for this address or the worker is full.
    Full,
}

/// A request the worker must send (a retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The network to ask on.
    pub network: NetworkId,
    /// The port to send on.
    pub port: PortId,
    /// The address asked for ([`super::ip_key`]).
    pub ip: u128,
    /// Unicast to this MAC (a probe), else broadcast / solicited-node.
    pub to: Option<[u8; 6]>,
}

/// A worker's pending resolutions and held packets.
#[derive(Debug)]
pub struct Resolver<T> {
    pending: Vec<Option<Pending>>,
    /// Addresses in `pending`.
    active: usize,
    held: VecDeque<Held<T>>,
    per_address: u32,
    retry_ns: u64,
    tries: u32,
}

impl<T> Resolver<T> {
    /// An empty hold sized by `s`.
    pub fn new(s: &SlowPathSettings) -> Self {
        Self {
            pending: vec![None; MAX_PENDING],
            active: 0,
            held: VecDeque::with_capacity(s.neighbor_hold_total as usize),
            per_address: s.neighbor_hold_packets,
            retry_ns: u64::from(s.neighbor_retry_ms) * 1_000_000,
            tries: s.neighbor_tries,
        }
    }

    /// True when `ip` on `network` is being resolved.
    pub fn is_pending(&self, network: NetworkId, ip: u128) -> bool {
        self.active > 0
            && self
                .pending
                .iter()
                .any(|p| p.is_some_and(|p| p.network == network && p.ip == ip))
    }

    /// Packets held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is pending.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.active == 0
    }

    /// Holds `h` for `ip` on `h.network`. A new address starts a resolution
    /// (the caller sends the request). On `Full` the packet is given back.
    pub fn hold(&mut self, ip: u128, h: HeldInput<T>, now: u64) -> Result<HoldResult, T> {
        if self.held.len() >= self.held.capacity() {
            return Err(h.buf);
        }
        let found = self
            .pending
            .iter()
            .position(|p| p.is_some_and(|p| p.network == h.network && p.ip == ip));
        let (slot, result) = match found {
            Some(s) => (s, HoldResult::Held),
            None => {
                let Some(s) = self.pending.iter().position(Option::is_none) else {
                    return Err(h.buf);
                };
                self.active += 1;
                self.pending[s] = Some(Pending {
                    network: h.network,
                    ip,
                    port: h.port,
                    last_ns: now,
                    tries: 1,
                    held: 0,
                });
                (s, HoldResult::HeldSendRequest)
            }
        };
        let Some(p) = self.pending[slot].as_mut() else {
            return Err(h.buf);
        };
        if p.held >= self.per_address {
            if p.held == 0 {
                self.pending[slot] = None;
                self.active -= 1;
            }
            return Err(h.buf);
        }
        p.held += 1;
        self.held.push_back(Held {
            buf: h.buf,
            port: h.port,
            network: h.network,
            in_port: h.in_port,
            in_network: h.in_network,
            local: h.local,
            frag_mtu: h.frag_mtu,
            slot: slot as u16,
        });
        Ok(result)
    }

    /// Releases, in arrival order, every packet whose address `mac_of`
    /// now knows: `out(held, mac)` is called for each. Returns how many.
    pub fn release(
        &mut self,
        mut mac_of: impl FnMut(NetworkId, u128) -> Option<[u8; 6]>,
        mut out: impl FnMut(Held<T>, [u8; 6]),
    ) -> usize {
        if self.active == 0 {
            return 0;
        }
        let mut macs = [None; MAX_PENDING];
        let mut any = false;
        for (m, p) in macs.iter_mut().zip(&self.pending) {
            if let Some(p) = p {
                *m = mac_of(p.network, p.ip);
                any |= m.is_some();
            }
        }
        if !any {
            return 0;
        }
        let mut released = 0;
        for _ in 0..self.held.len() {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            match macs[usize::from(h.slot)] {
                Some(mac) => {
                    released += 1;
                    out(h, mac);
                }
                None => self.held.push_back(h),
            }
        }
        for (m, p) in macs.iter().zip(self.pending.iter_mut()) {
            if m.is_some() && p.is_some() {
                *p = None;
                self.active -= 1;
            }
        }
        released
    }

    /// Runs the timers due at `now`: a request to resend goes to
    /// `request`; the packets of a resolution that failed (all tries sent
    /// and one more interval passed) go to `failed`, in arrival order.
    pub fn tick(
        &mut self,
        now: u64,
        mut request: impl FnMut(Request),
        mut failed: impl FnMut(Held<T>),
    ) {
        let mut dead = [false; MAX_PENDING];
        let mut any_dead = false;
        for (d, slot) in dead.iter_mut().zip(self.pending.iter_mut()) {
            let Some(p) = slot else { continue };
            if now < p.last_ns.saturating_add(self.retry_ns) {
                continue;
            }
            if p.tries < self.tries {
                p.tries += 1;
                p.last_ns = now;
                request(Request {
                    network: p.network,
                    port: p.port,
                    ip: p.ip,
                    to: None,
                });
            } else {
                *d = true;
                any_dead = true;
                *slot = None;
                self.active -= 1;
            }
        }
        if !any_dead {
            return;
        }
        for _ in 0..self.held.len() {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            if dead[usize::from(h.slot)] {
                failed(h);
            } else {
                self.held.push_back(h);
            }
        }
    }

    /// The earliest time a timer is due, if anything is pending.
    pub fn next_due(&self) -> Option<u64> {
        self.pending
            .iter()
            .flatten()
            .map(|p| p.last_ns.saturating_add(self.retry_ns))
            .min()
    }

    /// Empties the hold (shutdown): every packet goes to `failed`.
    pub fn drain(&mut self, mut failed: impl FnMut(Held<T>)) {
        self.pending.iter_mut().for_each(|p| *p = None);
        self.active = 0;
        while let Some(h) = self.held.pop_front() {
            failed(h);
        }
    }
}

/// What the caller knows of a packet to hold.
#[derive(Debug)]
pub struct HeldInput<T> {
    /// The frame.
    pub buf: T,
    /// Egress port.
    pub port: PortId,
    /// Egress network.
    pub network: NetworkId,
    /// Ingress port.
    pub in_port: PortId,
    /// Ingress network.
    pub in_network: NetworkId,
    /// Generated by cnfwd.
    pub local: bool,
    /// The MTU to fragment it for when it is sent (0: sent whole).
    pub frag_mtu: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(n: u8) -> HeldInput<u8> {
        HeldInput {
            buf: n,
            port: 1,
            network: 2,
            in_port: 0,
            in_network: 3,
            local: false,
            frag_mtu: 0,
        }
    }

    #[test]
    fn held_packets_leave_in_order_once_resolved() {
        let mut r = Resolver::new(&SlowPathSettings::default());
        assert_eq!(r.hold(9, input(1), 0), Ok(HoldResult::HeldSendRequest));
        assert_eq!(r.hold(8, input(2), 0), Ok(HoldResult::HeldSendRequest));
        assert_eq!(r.hold(9, input(3), 0), Ok(HoldResult::Held));
        let mut out = Vec::new();
        let n = r.release(|_, ip| (ip == 9).then_some([1; 6]), |h, _| out.push(h.buf));
        assert_eq!((n, out), (2, vec![1, 3]));
        assert_eq!(r.held(), 1);
    }

    #[test]
    fn unanswered_resolution_retries_then_fails() {
        let mut r = Resolver::new(&SlowPathSettings::default());
        r.hold(9, input(1), 0).unwrap();
        let (mut reqs, mut failed) = (0, Vec::new());
        for t in 1..=4u64 {
            r.tick(t * 1_000_000_000, |_| reqs += 1, |h| failed.push(h.buf));
        }
        // Requests at 0 (by the caller), 1 s and 2 s; failure at 3 s.
        assert_eq!((reqs, failed), (2, vec![1]));
        assert!(r.is_idle());
    }

    #[test]
    fn the_hold_is_bounded_per_address() {
        let s = SlowPathSettings {
            neighbor_hold_packets: 2,
            ..Default::default()
        };
        let mut r = Resolver::new(&s);
        r.hold(9, input(1), 0).unwrap();
        r.hold(9, input(2), 0).unwrap();
        assert_eq!(r.hold(9, input(3), 0), Err(3));
    }
}
