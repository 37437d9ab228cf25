//! EAL, mempool, ethdev and the C shim against a real DPDK, without NICs or
//! hugepages: one `net_ring` vdev, whose TX loops back to its RX.
//!
//! `rte_eal_init` works once per process, ever (even after
//! `rte_eal_cleanup`), so this binary holds exactly one test that runs every
//! step in order. `--file-prefix` is unique per process and `--no-shconf` is
//! set, so parallel runs never collide.
#![cfg(feature = "bindings")]

use dpdk_sys::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

const PORT: u16 = 0;
const QUEUE: u16 = 0;
const NB_MBUFS: u32 = 8191;
const CACHE: u32 = 256;
const BURST: usize = 32;
const ROUNDS: usize = 64;
const FRAME_LEN: usize = 64;

/// Starts EAL with a vdev loop port and no hugepages/PCI/shared config.
fn eal_init() {
    let args = [
        "cnfwd-ffi-test".to_owned(),
        "--no-huge".to_owned(),
        "-m".to_owned(),
        "512".to_owned(),
        "--no-pci".to_owned(),
        "--no-shconf".to_owned(),
        "--file-prefix".to_owned(),
        format!("cnfwd-ffi-{}", std::process::id()),
        "-l".to_owned(),
        "0".to_owned(),
        "--vdev=net_ring0".to_owned(),
        "--log-level".to_owned(),
        "lib.eal:notice".to_owned(),
    ];
    // EAL may keep and reorder these pointers: leak them for the process.
    let mut argv: Vec<*mut c_char> = args
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap().into_raw())
        .collect();
    let argc = i32::try_from(argv.len()).unwrap();
    // SAFETY: argv holds `argc` valid NUL-terminated strings that live for the
    // rest of the process; this is the only EAL init in this process.
    let ret = unsafe { rte_eal_init(argc, argv.as_mut_ptr()) };
    std::mem::forget(argv);
    assert!(
        ret >= 0,
        "rte_eal_init failed: {ret}, rte_errno {}",
        errno()
    );
}

/// The calling thread's `rte_errno`.
fn errno() -> i32 {
    // SAFETY: reads a thread-local int; no preconditions.
    unsafe { cnfwd_errno() }
}

/// The calling thread's lcore id (`u32::MAX` off EAL lcores).
fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local; no preconditions.
    unsafe { cnfwd_lcore_id() }
}

/// Mbufs of `pool` currently allocated (including none in lcore caches).
fn in_use(pool: *const rte_mempool) -> u32 {
    // SAFETY: `pool` is a live mempool created by this test.
    unsafe { rte_mempool_in_use_count(pool) }
}

/// Sets up port 0 with one RX and one TX queue fed by `pool`, and starts it.
fn start_port(pool: *mut rte_mempool, socket: i32) {
    // SAFETY: all-zero is the documented default `rte_eth_conf`.
    let conf: rte_eth_conf = unsafe { std::mem::zeroed() };
    // SAFETY: EAL is initialised and port 0 exists; `conf` outlives the call.
    let ret = unsafe { rte_eth_dev_configure(PORT, 1, 1, &conf) };
    assert_eq!(ret, 0, "rte_eth_dev_configure");
    let socket = u32::try_from(socket).unwrap_or(0);
    // SAFETY: port configured with one RX queue; null rxconf means defaults;
    // `pool` is a live pktmbuf pool.
    let ret = unsafe { rte_eth_rx_queue_setup(PORT, QUEUE, 1024, socket, ptr::null(), pool) };
    assert_eq!(ret, 0, "rte_eth_rx_queue_setup");
    // SAFETY: port configured with one TX queue; null txconf means defaults.
    let ret = unsafe { rte_eth_tx_queue_setup(PORT, QUEUE, 1024, socket, ptr::null()) };
    assert_eq!(ret, 0, "rte_eth_tx_queue_setup");
    // SAFETY: port configured and its queues set up.
    let ret = unsafe { rte_eth_dev_start(PORT) };
    assert_eq!(ret, 0, "rte_eth_dev_start");
}

/// The test frame number `seq`: broadcast Ethernet, an IPv4 ethertype and a
/// payload that names `seq`, so every frame is different.
fn frame(seq: usize) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14..22].copy_from_slice(&(seq as u64).to_be_bytes());
    for (i, b) in f[22..].iter_mut().enumerate() {
        *b = (seq + i) as u8;
    }
    f
}

/// Allocates one burst, writes frames `first..first + BURST` into it, sends
/// it, receives it back and checks every byte; frees everything.
fn loop_one_burst(pool: *mut rte_mempool, first: usize) {
    let mut tx = [ptr::null_mut::<rte_mbuf>(); BURST];
    // SAFETY: `pool` is a live pktmbuf pool; `tx` has room for BURST pointers.
    let ret = unsafe { cnfwd_pktmbuf_alloc_bulk(pool, tx.as_mut_ptr(), BURST as u32) };
    assert_eq!(ret, 0, "rte_pktmbuf_alloc_bulk");
    for (i, &m) in tx.iter().enumerate() {
        let f = frame(first + i);
        // SAFETY: `m` is a fresh mbuf we own; its buffer has
        // RTE_MBUF_DEFAULT_DATAROOM (2048) bytes after `data_off`, more than
        // FRAME_LEN; the frame and the mbuf data do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(f.as_ptr(), pktmbuf_mtod(m), FRAME_LEN);
            (*m).data_len = FRAME_LEN as u16;
            (*m).pkt_len = FRAME_LEN as u32;
        }
    }
    // SAFETY: port started; `tx` holds BURST mbufs we own.
    let sent =
        usize::from(unsafe { cnfwd_eth_tx_burst(PORT, QUEUE, tx.as_mut_ptr(), BURST as u16) });
    assert_eq!(sent, BURST, "net_ring took only {sent} of {BURST}");

    let mut rx = [ptr::null_mut::<rte_mbuf>(); BURST];
    let mut got = 0;
    for _ in 0..100 {
        // SAFETY: port started; `rx[got..]` has room for BURST - got pointers.
        let n = unsafe {
            cnfwd_eth_rx_burst(PORT, QUEUE, rx[got..].as_mut_ptr(), (BURST - got) as u16)
        };
        got += usize::from(n);
        if got == BURST {
            break;
        }
    }
    assert_eq!(got, BURST, "received {got} of {BURST}");
    for (i, &m) in rx.iter().enumerate() {
        // SAFETY: `m` is a received mbuf we own, `data_len` bytes long at mtod.
        let bytes =
            unsafe { std::slice::from_raw_parts(pktmbuf_mtod(m), usize::from((*m).data_len)) };
        assert_eq!(bytes, frame(first + i), "frame {}", first + i);
        // SAFETY: `m` is valid.
        assert_eq!(unsafe { (*m).pkt_len }, FRAME_LEN as u32);
    }
    // SAFETY: `rx` holds BURST mbufs we own and never use again.
    unsafe { rte_pktmbuf_free_bulk(rx.as_mut_ptr(), BURST as u32) };
}

/// Headroom ops used for VLAN push/pop: prepend then adj restores the mbuf.
fn prepend_and_adj(pool: *mut rte_mempool) {
    // SAFETY: `pool` is a live pktmbuf pool.
    let m = unsafe { cnfwd_pktmbuf_alloc(pool) };
    assert!(!m.is_null());
    // SAFETY: `m` is a fresh mbuf we own; the writes stay within its dataroom
    // and headroom (RTE_PKTMBUF_HEADROOM = 128 > 4).
    unsafe {
        assert_eq!(u32::from((*m).data_off), RTE_PKTMBUF_HEADROOM);
        (*m).data_len = 14;
        (*m).pkt_len = 14;
        let start = pktmbuf_mtod(m);
        let p = cnfwd_pktmbuf_prepend(m, 4);
        assert_eq!(p.cast::<u8>(), start.sub(4));
        assert_eq!(pktmbuf_mtod(m), start.sub(4));
        assert_eq!(((*m).data_len, (*m).pkt_len), (18, 18));
        let p = cnfwd_pktmbuf_adj(m, 4);
        assert_eq!(p.cast::<u8>(), start);
        assert_eq!(((*m).data_len, (*m).pkt_len), (14, 14));
        // More than the headroom: refused, nothing changed.
        assert!(cnfwd_pktmbuf_prepend(m, 4096).is_null());
        assert_eq!(pktmbuf_mtod(m), start);
        cnfwd_pktmbuf_free(m);
    }
}

#[test]
fn eal_mempool_ethdev_and_shim_over_net_ring() {
    assert_eq!(lcore_id(), u32::MAX, "not an lcore before EAL init");
    eal_init();
    assert_eq!(lcore_id(), 0, "main thread is lcore 0 (-l 0)");
    // SAFETY: EAL is initialised.
    assert_eq!(unsafe { rte_eth_dev_count_avail() }, 1);

    // rte_errno through the accessor: a lookup of a missing pool sets ENOENT.
    let missing = c"no-such-pool";
    // SAFETY: `missing` is a valid C string.
    assert!(unsafe { rte_mempool_lookup(missing.as_ptr()) }.is_null());
    assert_eq!(errno(), libc_enoent());

    // SAFETY: EAL is initialised.
    let socket = unsafe { rte_socket_id() } as i32;
    let name = c"cnfwd-ffi-pool";
    // SAFETY: EAL is initialised; `name` is a valid C string.
    let pool = unsafe {
        rte_pktmbuf_pool_create(
            name.as_ptr(),
            NB_MBUFS,
            CACHE,
            0,
            RTE_MBUF_DEFAULT_BUF_SIZE as u16,
            socket,
        )
    };
    assert!(
        !pool.is_null(),
        "rte_pktmbuf_pool_create: rte_errno {}",
        errno()
    );
    let start = in_use(pool);
    assert_eq!(start, 0);

    start_port(pool, socket);
    // The RX queue of net_ring does not pre-fill from the pool.
    let baseline = in_use(pool);

    for round in 0..ROUNDS {
        loop_one_burst(pool, round * BURST);
    }
    prepend_and_adj(pool);
    assert_eq!(in_use(pool), baseline, "mbufs leaked");

    // A non-lcore thread can still allocate and free.
    let pool_addr = pool as usize;
    std::thread::spawn(move || {
        let pool = pool_addr as *mut rte_mempool;
        assert_eq!(lcore_id(), u32::MAX, "a plain thread is not an lcore");
        // SAFETY: `pool` is live until the main thread joins this thread.
        let m = unsafe { cnfwd_pktmbuf_alloc(pool) };
        assert!(!m.is_null());
        // SAFETY: `m` is ours and not used again.
        unsafe { cnfwd_pktmbuf_free(m) };
    })
    .join()
    .unwrap();
    assert_eq!(
        in_use(pool),
        baseline,
        "mbufs leaked from a non-lcore thread"
    );

    // SAFETY: port started; nothing is in flight.
    unsafe {
        assert_eq!(rte_eth_dev_stop(PORT), 0);
        assert_eq!(rte_eth_dev_close(PORT), 0);
    }
    assert_eq!(in_use(pool), start, "mbufs still held after port close");
    // SAFETY: the port is closed and no mbuf of the pool is in use.
    unsafe { rte_mempool_free(pool) };
    // `--no-shconf` still creates an (empty) runtime dir: remove it after
    // cleanup so runs do not pile up directories under /var/run/dpdk.
    // SAFETY: EAL is initialised; the result is a static C string.
    let run_dir = unsafe { CStr::from_ptr(rte_eal_get_runtime_dir()) }
        .to_str()
        .unwrap()
        .to_owned();
    // SAFETY: every DPDK object is released; no DPDK call follows.
    assert_eq!(unsafe { rte_eal_cleanup() }, 0);
    assert!(run_dir.contains("cnfwd-ffi-"), "runtime dir {run_dir}");
    let _ = std::fs::remove_dir_all(&run_dir);
}

/// ENOENT on Linux (errno-base.h), without a libc dependency.
fn libc_enoent() -> i32 {
    2
}
