//! Helpers shared by the integration tests of this crate (each test binary
//! uses a subset, hence the `dead_code` allowance).
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dataplane::control::Client;

/// Sets the flag when dropped, unwinding included: a live run driven by a
/// test stops even when an assertion of the test fails.
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A client of the management socket at `socket`, retrying until the
/// server is up (at most `within`).
pub fn connect_when_up(socket: &Path, within: Duration) -> Client {
    let deadline = Instant::now() + within;
    loop {
        match Client::connect(socket, Duration::from_secs(5)) {
            Ok(c) => return c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "no socket at {}: {e}",
                    socket.display()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The Internet checksum (RFC 1071) of `data`, an odd last byte padded.
pub fn checksum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

pub mod dpdk;
pub mod frames;
pub mod hosts;
pub mod rawsock;
pub mod server;
