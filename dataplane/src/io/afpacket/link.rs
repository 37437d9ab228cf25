//! Watching each port's interface: down, gone, back, reopened.
//!
//! What the kernel does (measured on Linux 6.18 with veth pairs):
//!
//! - Interface set **down**: a bound packet socket stays bound; nothing is
//!   received, sends fail with `ENETDOWN`. Set **up** again, the same socket
//!   receives and sends again (its fanout membership and promiscuous
//!   membership are kept). Nothing to reopen.
//! - Interface **deleted**: the kernel unbinds the socket (`ENETDOWN` in
//!   `sk_err`, sends fail with `ENXIO`); a TPACKET_V3 ring just stays
//!   silent. An interface re-created under the same name has a new
//!   ifindex, which the old socket never sees: the port has to be opened
//!   again (sockets, rings, fanout group, promiscuous membership).
//!
//! So every port is checked off the per-packet path, each time
//! [`crate::io::Backend::check_links`] is called (every second by the live
//! workers): `SIOCGIFINDEX` and `SIOCGIFFLAGS` on the port's socket, two
//! `ioctl`s per port per worker. The index tells gone (no such name, or
//! another index than the one bound) from there; the flags tell up
//! (`IFF_UP` and `IFF_RUNNING`) from down. No lock, allocation or system
//! call is added to `rx_burst` / `tx_burst`.
//!
//! The parts of a split backend (one per worker) share one [`Shared`] per
//! port. It holds the state last reported, so that each change is printed
//! once (on stderr, by the first worker that sees it) and counted once
//! ([`PortLink`]). When the interface is back under a new index and up,
//! the first worker to see it opens all the port's queues at once (one new
//! `PACKET_FANOUT_HASH` group, same queue count, same ring geometry) and
//! leaves each worker's socket in a slot; every worker takes its own at
//! its next check (within a second; meanwhile the kernel queues its share
//! in the new ring) and drops the old one. A reopen that fails (the
//! interface went away again, ...) is retried at the next check, its error
//! printed once.
//!
//! While a port is gone `tx_burst` does not try to send (the engine counts
//! the packets as `port_down`); while it is down it still tries (the first
//! send after the interface comes up succeeds) and the kernel refuses.

use std::sync::{Arc, Mutex};

use super::{open_port, sys, Port, Queue, RingConfig};
use crate::io::{LinkState, PortLink};

/// One port's link state shared by the parts of a split backend.
pub(super) struct Shared {
    /// Queues (sockets) of the port over all parts.
    queues: usize,
    /// Ring geometry of each socket.
    ring: RingConfig,
    /// The device MAC when cnfwd started (the tables use it).
    device_mac: [u8; 6],
    inner: Mutex<Inner>,
}

struct Inner {
    /// Index of the interface the newest sockets are bound to.
    ifindex: u32,
    /// Bumped at each reopen.
    generation: u64,
    /// The state last reported.
    state: LinkState,
    /// Sockets of the newest generation not taken yet, by queue.
    slots: Vec<Option<Queue>>,
    /// The last reopen error printed (printed again only when it changes).
    last_error: Option<String>,
}

/// One part's view of a port's link.
pub(super) struct Watch {
    shared: Arc<Shared>,
    /// Index of the interface this part's sockets are bound to.
    ifindex: u32,
    /// Generation of this part's sockets.
    generation: u64,
    /// Queue (slot) number of this part's first socket.
    first_queue: usize,
    /// State at the last check and the changes this part counted.
    pub(super) view: PortLink,
}

impl Watch {
    /// The watch of a port just opened on `ifindex` with `queues` sockets.
    pub(super) fn new(ifindex: u32, queues: usize, ring: RingConfig, device_mac: [u8; 6]) -> Self {
        Watch {
            shared: Arc::new(Shared {
                queues,
                ring,
                device_mac,
                inner: Mutex::new(Inner {
                    ifindex,
                    generation: 0,
                    state: LinkState::Up,
                    slots: Vec::new(),
                    last_error: None,
                }),
            }),
            ifindex,
            generation: 0,
            first_queue: 0,
            view: PortLink::default(),
        }
    }

    /// The watch of the part that holds queue `first_queue` (split).
    pub(super) fn part(&self, first_queue: usize) -> Self {
        Watch {
            shared: Arc::clone(&self.shared),
            ifindex: self.ifindex,
            generation: self.generation,
            first_queue,
            view: PortLink {
                state: self.view.state,
                ..PortLink::default()
            },
        }
    }
}

/// `IFF_UP | IFF_RUNNING`: administratively up with a carrier.
const UP_RUNNING: u32 = (libc::IFF_UP | libc::IFF_RUNNING) as u32;

impl Port {
    /// Checks the interface (two `ioctl`s), reports and counts a change
    /// once over all parts, reopens the port on a re-created interface and
    /// takes this part's new sockets.
    pub(super) fn check_link(&mut self) {
        let Some(fd) = self.queues.first().map(|q| &q.fd) else {
            return;
        };
        // An error other than "no such device" says nothing: next time.
        let Ok(found) = sys::if_index_of(fd, &self.interface) else {
            return;
        };
        let flags = match found {
            Some(_) => match sys::if_flags(fd, &self.interface) {
                Ok(f) => Some(f),
                // Deleted between the two calls: next time.
                Err(_) => return,
            },
            None => None,
        };
        let shared = Arc::clone(&self.watch.shared);
        let mut g = shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut reopened_from = None;
        if let (Some(idx), Some(f)) = (found, flags) {
            if idx != g.ifindex && f & libc::IFF_UP as u32 != 0 {
                let old = g.ifindex;
                if self.reopen(&shared, &mut g, idx) {
                    reopened_from = Some(old);
                }
            }
        }
        if self.watch.generation < g.generation {
            self.take_sockets(&mut g);
        }
        let state = match (found, flags) {
            (Some(idx), Some(f)) if idx == self.watch.ifindex => {
                if f & UP_RUNNING == UP_RUNNING {
                    LinkState::Up
                } else {
                    LinkState::Down
                }
            }
            _ => LinkState::Gone,
        };
        if state != g.state {
            let who = format!("port {} ({})", self.name, self.interface);
            let (port, interface) = (self.name.as_str(), self.interface.as_str());
            match state {
                LinkState::Down => {
                    self.watch.view.went_down += 1;
                    let why = match flags {
                        Some(f) if f & libc::IFF_UP as u32 == 0 => "admin down",
                        _ => "no carrier",
                    };
                    tracing::warn!(
                        port,
                        interface,
                        link = "down",
                        why,
                        "{who}: down ({why}); the other ports keep forwarding"
                    );
                }
                LinkState::Gone => {
                    self.watch.view.went_gone += 1;
                    tracing::warn!(
                        port,
                        interface,
                        link = "gone",
                        "{who}: interface gone (ifindex {} no longer exists); the other ports keep forwarding, the port is reopened when the interface returns",
                        self.watch.ifindex
                    );
                }
                LinkState::Up => {
                    self.watch.view.came_back += 1;
                    match reopened_from {
                        Some(old) => tracing::info!(
                            port,
                            interface,
                            link = "up",
                            "{who}: back: interface re-created (ifindex {old} -> {}), reopened with {} queue(s)",
                            self.watch.ifindex, shared.queues
                        ),
                        None => {
                            tracing::info!(port, interface, link = "up", "{who}: back up")
                        }
                    }
                }
            }
            g.state = state;
        }
        self.watch.view.state = state;
    }

    /// Opens every queue of the port anew on interface `idx` and leaves
    /// the sockets in the slots. False (error printed once) on failure.
    fn reopen(&mut self, shared: &Shared, g: &mut Inner, idx: u32) -> bool {
        match open_port(&self.interface, shared.queues, shared.ring) {
            Ok(opened) if opened.ifindex == idx => {
                if opened.device_mac != shared.device_mac && self.mac == shared.device_mac {
                    tracing::warn!(
                        port = %self.name,
                        interface = %self.interface,
                        "port {} ({}): the re-created interface has MAC {}, cnfwd keeps answering with {} (set the port's `mac` to pin it)",
                        self.name,
                        self.interface,
                        mac_text(opened.device_mac),
                        mac_text(shared.device_mac)
                    );
                }
                g.slots = opened.queues.into_iter().map(Some).collect();
                g.ifindex = idx;
                g.generation += 1;
                g.last_error = None;
                self.watch.view.reopened += 1;
                true
            }
            // Replaced again in between: the next check sees the newest.
            Ok(_) => false,
            Err(e) => {
                let text = e.to_string();
                if g.last_error.as_deref() != Some(text.as_str()) {
                    tracing::error!(
                        port = %self.name,
                        interface = %self.interface,
                        "port {} ({}): cannot reopen: {text}; trying again every check",
                        self.name, self.interface
                    );
                    g.last_error = Some(text);
                }
                false
            }
        }
    }

    /// Replaces this part's sockets with its slots of the newest
    /// generation (the old ones' kernel counters are kept).
    fn take_sockets(&mut self, g: &mut Inner) {
        let n = self.queues.len();
        let range = self.watch.first_queue..self.watch.first_queue + n;
        if range.end > g.slots.len() || g.slots[range.clone()].iter().any(Option::is_none) {
            return;
        }
        self.read_kernel_stats();
        for (q, slot) in self.queues.iter_mut().zip(&mut g.slots[range]) {
            if let Some(new) = slot.take() {
                *q = new;
            }
        }
        self.rx_next = 0;
        self.watch.ifindex = g.ifindex;
        self.watch.generation = g.generation;
    }
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
