//! A raw AF_PACKET socket on one interface of a network namespace: sends
//! frames exactly as given and captures every frame the interface receives
//! (its own outgoing frames left out), whatever their destination MAC.
//!
//! Used by `kernel_reference.rs` on the far ends of the veths around a
//! forwarder (the Linux kernel or cnfwd): the same socket injects the test's
//! frames and captures what the forwarder sends out.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::hosts::in_netns;

/// A bound `AF_PACKET`/`SOCK_RAW` socket (`ETH_P_ALL`), non-blocking.
/// Frames are captured from the moment [`RawSocket::open`] returns.
pub struct RawSocket {
    fd: OwnedFd,
    /// The interface it is bound to (for messages).
    pub ifname: String,
}

impl RawSocket {
    /// Opens and binds a socket on `ifname` inside namespace `ns`; panics
    /// (naming the interface) when the interface is missing or the socket
    /// cannot be made. VLAN offload does not matter here: the tests using
    /// it send and expect untagged frames only.
    pub fn open(ns: &str, ifname: &str) -> RawSocket {
        let name = ifname.to_owned();
        let fd = in_netns(ns, move || {
            let c = std::ffi::CString::new(name.clone()).expect("interface name");
            // SAFETY: `c` is a valid C string for the call.
            let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
            assert_ne!(idx, 0, "interface {name} not found");
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
            assert_eq!(r, 0, "bind {name}: {}", std::io::Error::last_os_error());
            large_receive_buffer(&fd);
            fd
        });
        RawSocket {
            fd,
            ifname: ifname.to_owned(),
        }
    }

    /// Sends `frame` as it is (no padding is added); panics when the kernel
    /// does not take all of it.
    pub fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is readable for its length during the call.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            r,
            frame.len() as isize,
            "send on {}: {}",
            self.ifname,
            std::io::Error::last_os_error()
        );
    }

    /// One received frame (never one this host sent), if one is queued.
    pub fn try_recv(&self) -> Option<Vec<u8>> {
        loop {
            let mut buf = vec![0u8; 65536];
            // SAFETY: all-zero is a valid sockaddr_ll.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` and `sll` are live local buffers of the lengths
            // given.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                return None;
            }
            if sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            buf.truncate(n as usize);
            return Some(buf);
        }
    }

    /// Every frame received until none has come for `quiet` (at most
    /// `within` in all).
    pub fn drain(&self, quiet: Duration, within: Duration) -> Vec<Vec<u8>> {
        drain_all(std::slice::from_ref(self), quiet, within)
            .pop()
            .unwrap_or_default()
    }
}

/// Every frame each of `sockets` receives until none of them has received
/// one for `quiet` (at most `within` in all), one list per socket in the
/// order given.
pub fn drain_all(sockets: &[RawSocket], quiet: Duration, within: Duration) -> Vec<Vec<Vec<u8>>> {
    let mut got = vec![Vec::new(); sockets.len()];
    let end = Instant::now() + within;
    let mut last = Instant::now();
    while Instant::now() < end && last.elapsed() < quiet {
        let mut any = false;
        for (s, g) in sockets.iter().zip(got.iter_mut()) {
            while let Some(f) = s.try_recv() {
                g.push(f);
                any = true;
            }
        }
        if any {
            last = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    got
}

/// Gives a test's packet socket a receive buffer for a whole test's frames
/// (the default holds a few hundred): a test reader that falls behind on a
/// loaded machine must not lose frames cnfwd forwarded. As root,
/// `SO_RCVBUFFORCE` passes `rmem_max`.
pub fn large_receive_buffer(fd: &OwnedFd) {
    let bytes: libc::c_int = 16 << 20;
    // SAFETY: `bytes` is a live c_int of the length passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
}
