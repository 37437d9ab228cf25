//! Thin, typed wrappers over the libc calls the AF_PACKET backend makes.
//!
//! Every call goes through [`cvt`], which turns the C convention (`-1` and
//! `errno`) into `io::Error`. Sockets are `OwnedFd`s; nothing here keeps
//! state. The only `unsafe` of the backend outside the ring lives here.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Turns a libc return value of `-1` into the thread's last OS error.
pub(super) fn cvt<T: IsMinusOne>(ret: T) -> io::Result<T> {
    if ret.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Integer return types of libc calls.
pub(super) trait IsMinusOne: Copy {
    /// True for the error value `-1`.
    fn is_minus_one(self) -> bool;
}

impl IsMinusOne for i32 {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

impl IsMinusOne for isize {
    fn is_minus_one(self) -> bool {
        self == -1
    }
}

/// `ETH_P_ALL` in network byte order, as the socket calls want it.
pub(super) const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// A non-blocking, close-on-exec `AF_PACKET`/`SOCK_RAW` socket that receives
/// nothing until it is bound (protocol 0).
pub(super) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call with constant arguments; no pointers.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2), is open and owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The interface index of `name`; `Ok(None)` when no such interface exists.
pub(super) fn if_index(name: &str) -> io::Result<Option<u32>> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::ENXIO) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    Ok(Some(idx))
}

/// Sets a socket option whose value is the plain-old-data `val`.
pub(super) fn setsockopt<T: Copy>(fd: &OwnedFd, level: i32, name: i32, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live `T` of exactly the length passed; the
    // kernel only reads it. `T: Copy` rules out types with drop glue.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Reads a socket option into a `T` (the kernel fills at most `size_of::<T>()` bytes).
///
/// Only used with libc's option structs and integers, for which every bit
/// pattern (including all zeroes) is valid.
pub(super) fn getsockopt<T: Copy>(fd: &OwnedFd, level: i32, name: i32) -> io::Result<T> {
    let mut val = MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` is writable for `len` bytes; `len` is a valid in/out length.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zero-initialised and possibly overwritten by the kernel; callers
    // use only integer/POD option types for which every bit pattern is valid.
    Ok(unsafe { val.assume_init() })
}

/// An `ifreq` naming `name` (truncated names are rejected by the caller's
/// earlier `if_nametoindex`).
fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is plain data (arrays, integers, a union of those and a
    // pointer) for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    req
}

/// Runs an interface ioctl that fills an `ifreq`.
fn if_ioctl(fd: RawFd, request: libc::c_ulong, name: &str) -> io::Result<libc::ifreq> {
    let mut req = ifreq(name);
    // SAFETY: `req` is a valid, writable `ifreq` for the duration of the
    // call, which is what SIOCGIF* requests read and write.
    cvt(unsafe { libc::ioctl(fd, request as _, &mut req as *mut libc::ifreq) })?;
    Ok(req)
}

/// The interface flags (`IFF_*`) of `name`.
pub(super) fn if_flags(fd: &OwnedFd, name: &str) -> io::Result<u32> {
    let req = if_ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, name)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok(flags as u16 as u32)
}

/// The hardware address family (`ARPHRD_*`) and its first six bytes.
pub(super) fn if_hwaddr(fd: &OwnedFd, name: &str) -> io::Result<(u16, [u8; 6])> {
    let req = if_ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, name)?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok((sa.sa_family, mac))
}

/// Binds the packet socket to `ifindex` for every protocol (`ETH_P_ALL`).
pub(super) fn bind(fd: &OwnedFd, ifindex: u32) -> io::Result<()> {
    // SAFETY: `sockaddr_ll` is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ALL_BE;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid `sockaddr_ll` of the length passed, alive for the call.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Maps `len` bytes of the socket's ring, shared and read-write, prefaulted.
pub(super) fn mmap_ring(fd: &OwnedFd, len: usize) -> io::Result<*mut u8> {
    // SAFETY: a fresh mapping chosen by the kernel (addr = NULL); it aliases
    // no Rust object. The caller owns it and unmaps it exactly once.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// The interface index of `name`, asked through `fd` (one `ioctl`);
/// `Ok(None)` when no such interface exists.
pub(super) fn if_index_of(fd: &OwnedFd, name: &str) -> io::Result<Option<u32>> {
    match if_ioctl(fd.as_raw_fd(), libc::SIOCGIFINDEX, name) {
        // SAFETY: SIOCGIFINDEX filled the `ifru_ifindex` member of the union.
        Ok(req) => Ok(Some(unsafe { req.ifr_ifru.ifru_ifindex } as u32)),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A failed system call of the socket set-up, naming the call (and option).
#[derive(Debug, thiserror::Error)]
#[error("{op} failed: {source}")]
pub(super) struct SyscallError {
    /// The system call (and option) that failed, e.g. `setsockopt(PACKET_RX_RING)`.
    pub op: &'static str,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl SyscallError {
    /// `op` failed with `source`.
    pub(super) fn new(op: &'static str, source: io::Error) -> Self {
        SyscallError { op, source }
    }
}
