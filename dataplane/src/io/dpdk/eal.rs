//! EAL initialisation (once per process) and the backend's error type.

use std::ffi::{c_char, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use dpdk_sys as sys;

/// Set by the first [`Eal::init`] and never cleared: DPDK refuses a second
/// `rte_eal_init` in a process, even after `rte_eal_cleanup`.
static EAL_CLAIMED: AtomicBool = AtomicBool::new(false);

/// The arguments given to `rte_eal_init` and the pointer array (as
/// addresses) it was given: EAL keeps, and may reorder, pointers into both,
/// so they live as long as the process. Kept in a static rather than leaked,
/// so LeakSanitizer (`scripts/sanitize.sh`) sees them as reachable.
static EAL_ARGV: Mutex<(Vec<CString>, Vec<usize>)> = Mutex::new((Vec::new(), Vec::new()));

/// The arguments `rte_eal_init` was given, program name (`cnfwd`) first, in
/// the order given (what DPDK's `/eal/params` lists); empty before
/// [`Eal::init`].
pub fn eal_args() -> Vec<String> {
    let kept = EAL_ARGV.lock().unwrap_or_else(|e| e.into_inner());
    kept.0
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect()
}

/// Why EAL, a pool or a DPDK port could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    /// `Eal::init` was already called in this process.
    #[error(
        "EAL was already initialised in this process (rte_eal_init works once per process, \
         even after rte_eal_cleanup)"
    )]
    AlreadyInitialized,
    /// An EAL argument holds a NUL byte.
    #[error("EAL argument {0:?} contains a NUL byte")]
    BadArgument(String),
    /// `rte_eal_init` failed.
    #[error("rte_eal_init failed: {msg} (rte_errno {errno})")]
    EalInit {
        /// `rte_errno`.
        errno: i32,
        /// `rte_strerror(rte_errno)`.
        msg: String,
    },
    /// A port of the configuration uses another backend.
    #[error("port {port:?} uses backend {backend}, but this run drives dpdk ports")]
    WrongBackend {
        /// Port name.
        port: String,
        /// Its backend.
        backend: &'static str,
    },
    /// The device is not known to EAL and probing it failed.
    #[error("port {port:?}: device {device:?} is not known to EAL and could not be probed: {msg}")]
    NoDevice {
        /// Port name.
        port: String,
        /// The configured device string.
        device: String,
        /// Why.
        msg: String,
    },
    /// An ethdev call failed.
    #[error("port {port:?} (DPDK port {port_id}): {op} failed: {msg} ({code})")]
    Port {
        /// Port name.
        port: String,
        /// DPDK port id.
        port_id: u16,
        /// The failing call.
        op: &'static str,
        /// Its (negative errno) result.
        code: i32,
        /// `rte_strerror` of it.
        msg: String,
    },
    /// `rte_pktmbuf_pool_create` failed.
    #[error("mbuf pool {name:?} ({mbufs} mbufs) on socket {socket}: {msg}")]
    Pool {
        /// Pool name.
        name: String,
        /// Requested size.
        mbufs: u32,
        /// NUMA socket.
        socket: i32,
        /// `rte_strerror(rte_errno)`.
        msg: String,
    },
}

/// `rte_strerror(code)` (`code` positive or negative).
pub(crate) fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to a static
    // or thread-local NUL-terminated string, valid until the next call on
    // this thread; it is copied at once.
    unsafe { CStr::from_ptr(sys::rte_strerror(code.abs())) }
        .to_string_lossy()
        .into_owned()
}

/// The calling thread's `rte_errno`.
pub(crate) fn errno() -> i32 {
    // SAFETY: reads a thread-local int; no preconditions.
    unsafe { sys::cnfwd_errno() }
}

/// An initialised DPDK Environment Abstraction Layer.
///
/// At most one exists per process, ever. Backends and mbufs borrow it
/// (`DpdkBackend<'e>`, `Mbuf<'e>`), so the compiler makes them go before it;
/// dropping it calls `rte_eal_cleanup`.
#[derive(Debug)]
pub struct Eal {
    runtime_dir: String,
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (EAL arguments without the program
    /// name, e.g. `["--no-huge", "-m", "512", "--vdev=net_ring0"]`).
    ///
    /// Callable once per process: later calls return
    /// [`DpdkError::AlreadyInitialized`], also after the first one failed or
    /// was cleaned up (DPDK itself refuses a second init).
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let mut cargs = Vec::with_capacity(args.len() + 1);
        cargs.push(c"cnfwd".to_owned());
        for a in args {
            cargs.push(CString::new(a.as_str()).map_err(|_| DpdkError::BadArgument(a.clone()))?);
        }
        if EAL_CLAIMED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialized);
        }
        // EAL keeps (and may reorder) argv's pointers: both the strings and
        // the array stay in EAL_ARGV for the life of the process.
        let mut kept = EAL_ARGV.lock().unwrap_or_else(|e| e.into_inner());
        kept.1 = cargs.iter().map(|c| c.as_ptr() as usize).collect();
        kept.0 = cargs;
        let argc = i32::try_from(kept.1.len()).unwrap_or(i32::MAX);
        let argv = kept.1.as_mut_ptr().cast::<*mut c_char>();
        // SAFETY: `argv` is `argc` pointer-sized slots (usize and pointers
        // have one size and alignment) holding the addresses of valid
        // NUL-terminated strings owned by EAL_ARGV, which never frees or
        // moves them (the vectors are never touched again); EAL only reads
        // the strings and permutes the slots. EAL_CLAIMED makes this the
        // only call in the process.
        let ret = unsafe { sys::rte_eal_init(argc, argv) };
        drop(kept);
        if ret < 0 {
            let e = errno();
            return Err(DpdkError::EalInit {
                errno: e,
                msg: strerror(e),
            });
        }
        // SAFETY: EAL is initialised; the result is a NUL-terminated string
        // owned by EAL, copied at once.
        let runtime_dir = unsafe { CStr::from_ptr(sys::rte_eal_get_runtime_dir()) }
            .to_string_lossy()
            .into_owned();
        Ok(Eal { runtime_dir })
    }

    /// EAL's runtime folder (`/var/run/dpdk/<file-prefix>`). It is created
    /// even with `--no-shconf`; callers that use a unique prefix may remove
    /// it after cleanup.
    pub fn runtime_dir(&self) -> &str {
        &self.runtime_dir
    }

    /// Calls `rte_eal_cleanup` now (as dropping does) and returns its result.
    pub fn cleanup(self) -> Result<(), DpdkError> {
        let me = std::mem::ManuallyDrop::new(self);
        // Drop the String by hand since ManuallyDrop skips it.
        // SAFETY: `me` is never used again after its field is moved out.
        let _dir = unsafe { std::ptr::read(&me.runtime_dir) };
        // SAFETY: no backend or mbuf can outlive `self` (they borrow it), so
        // no DPDK object of ours is in use; nothing calls DPDK afterwards.
        let ret = unsafe { sys::rte_eal_cleanup() };
        if ret < 0 {
            return Err(DpdkError::EalInit {
                errno: -ret,
                msg: strerror(ret),
            });
        }
        Ok(())
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: as in `cleanup`: every backend and mbuf borrowing this EAL
        // is gone.
        let ret = unsafe { sys::rte_eal_cleanup() };
        if ret < 0 {
            tracing::error!("rte_eal_cleanup failed: {}", strerror(ret));
        }
    }
}
