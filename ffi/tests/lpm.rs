//! DPDK's longest-prefix-match tables through the bindings and the shim:
//! `rte_fib` (DIR-24-8), `rte_lpm` (bulk and x4 lookups from `src/shim.c`),
//! `rte_fib6` (TRIE) and `rte_lpm6`, each loaded with a few nested prefixes
//! and checked on addresses whose answer is known, misses included.
//!
//! `rte_eal_init` works once per process, so this binary holds exactly one
//! test (a separate process from `tests/eal.rs`), with its own
//! `--file-prefix` and `--no-shconf`.
#![cfg(feature = "bindings")]

use dpdk_sys::*;
use std::ffi::{c_char, CStr, CString};

/// Starts EAL without hugepages, PCI or shared config.
fn eal_init() {
    let args = [
        "cnfwd-ffi-lpm".to_owned(),
        "--no-huge".to_owned(),
        "-m".to_owned(),
        "512".to_owned(),
        "--no-pci".to_owned(),
        "--no-shconf".to_owned(),
        "--file-prefix".to_owned(),
        format!("cnfwd-ffi-lpm-{}", std::process::id()),
        "-l".to_owned(),
        "0".to_owned(),
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
    // SAFETY: reads a thread-local int; no preconditions.
    assert!(ret >= 0, "rte_eal_init failed: rte_errno {}", unsafe {
        cnfwd_errno()
    });
}

/// `a.b.c.d` as a host-order `u32`.
fn v4(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

/// An IPv6 address as DPDK's 16 network-order bytes.
fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

/// The IPv4 routes (address, length, next hop) and lookups (address,
/// expected next hop or `None`) both tables are checked with.
const ROUTES4: [(&str, u8, u32); 4] = [
    ("10.0.0.0", 8, 1),
    ("10.1.0.0", 16, 2),
    ("10.1.2.0", 24, 3),
    ("10.1.2.128", 25, 4),
];
const KEYS4: [(&str, Option<u32>); 6] = [
    ("10.9.9.9", Some(1)),
    ("10.1.9.9", Some(2)),
    ("10.1.2.3", Some(3)),
    ("10.1.2.200", Some(4)),
    ("10.1.2.127", Some(3)),
    ("11.0.0.1", None),
];

fn check_fib4(socket: i32) {
    // The largest 1-byte next hop (the top bit marks a tbl8 pointer).
    const MISS: u64 = 127;
    // SAFETY: all-zero is a valid `rte_fib_conf` (plain integers and enums
    // whose zero value exists); the fields used are set below.
    let mut conf: rte_fib_conf = unsafe { std::mem::zeroed() };
    conf.type_ = rte_fib_type_RTE_FIB_DIR24_8;
    conf.default_nh = MISS;
    conf.max_routes = 16;
    conf.__bindgen_anon_1.dir24_8 = rte_fib_conf__bindgen_ty_1__bindgen_ty_1 {
        nh_sz: rte_fib_dir24_8_nh_sz_RTE_FIB_DIR24_8_1B,
        num_tbl8: 4,
    };
    // SAFETY: EAL is initialised; the name is a C string; `conf` outlives
    // the call.
    let fib = unsafe { rte_fib_create(c"test-fib".as_ptr(), socket, &mut conf) };
    assert!(!fib.is_null(), "rte_fib_create");
    for (a, len, nh) in ROUTES4 {
        // SAFETY: `fib` is live and used by this thread only.
        assert_eq!(unsafe { rte_fib_add(fib, v4(a), len, u64::from(nh)) }, 0);
    }
    let mut ips: Vec<u32> = KEYS4.iter().map(|(a, _)| v4(a)).collect();
    let mut out = vec![0u64; ips.len()];
    let n = i32::try_from(ips.len()).unwrap();
    // SAFETY: `fib` is live; `ips` and `out` hold `n` elements each.
    let ret = unsafe { rte_fib_lookup_bulk(fib, ips.as_mut_ptr(), out.as_mut_ptr(), n) };
    assert_eq!(ret, 0);
    let want: Vec<u64> = KEYS4
        .iter()
        .map(|(_, nh)| nh.map_or(MISS, u64::from))
        .collect();
    assert_eq!(out, want, "rte_fib_lookup_bulk");
    // SAFETY: `fib` is live and not used afterwards.
    unsafe { rte_fib_free(fib) };
}

fn check_lpm4(socket: i32) {
    const MISS: u32 = 0xff_ffff;
    let conf = rte_lpm_config {
        max_rules: 16,
        number_tbl8s: 4,
        flags: 0,
    };
    // SAFETY: EAL is initialised; the name is a C string; `conf` outlives
    // the call.
    let lpm = unsafe { rte_lpm_create(c"test-lpm".as_ptr(), socket, &conf) };
    assert!(!lpm.is_null(), "rte_lpm_create");
    for (a, len, nh) in ROUTES4 {
        // SAFETY: `lpm` is live and used by this thread only.
        assert_eq!(unsafe { rte_lpm_add(lpm, v4(a), len, nh) }, 0);
    }
    let ips: Vec<u32> = KEYS4.iter().map(|(a, _)| v4(a)).collect();
    let n = ips.len() as u32;
    let want: Vec<u32> = KEYS4.iter().map(|(_, nh)| nh.unwrap_or(MISS)).collect();

    let mut raw = vec![0u32; ips.len()];
    // SAFETY: `lpm` is live; `ips` and `raw` hold `n` elements each.
    let ret = unsafe { cnfwd_lpm_lookup_bulk(lpm, ips.as_ptr(), raw.as_mut_ptr(), n) };
    assert_eq!(ret, 0);
    let bulk: Vec<u32> = raw
        .iter()
        .map(|&e| {
            if e & RTE_LPM_LOOKUP_SUCCESS != 0 {
                e & 0xff_ffff
            } else {
                MISS
            }
        })
        .collect();
    assert_eq!(bulk, want, "rte_lpm_lookup_bulk");

    // Six addresses: one group of four through lookupx4, two single.
    let mut x4 = vec![0u32; ips.len()];
    // SAFETY: `lpm` is live; `ips` and `x4` hold `n` elements each.
    unsafe { cnfwd_lpm_lookupx4_bulk(lpm, ips.as_ptr(), x4.as_mut_ptr(), n, MISS) };
    assert_eq!(x4, want, "rte_lpm_lookupx4");

    for (&ip, &w) in ips.iter().zip(&want) {
        let mut nh = 0;
        // SAFETY: `lpm` is live; `nh` is a valid u32 to write.
        let ret = unsafe { cnfwd_lpm_lookup(lpm, ip, &mut nh) };
        if w == MISS {
            assert!(ret < 0, "rte_lpm_lookup hit on a miss");
        } else {
            assert_eq!((ret, nh), (0, w), "rte_lpm_lookup");
        }
    }
    // SAFETY: `lpm` is live and not used afterwards.
    unsafe { rte_lpm_free(lpm) };
}

const ROUTES6: [(&str, u8, u32); 4] = [
    ("2001:db8::", 32, 1),
    ("2001:db8:1::", 48, 2),
    ("2001:db8:1:2::", 64, 3),
    ("2001:db8:1:2::80", 121, 4),
];
const KEYS6: [(&str, Option<u32>); 5] = [
    ("2001:db8:9::1", Some(1)),
    ("2001:db8:1:9::1", Some(2)),
    ("2001:db8:1:2::1", Some(3)),
    ("2001:db8:1:2::ff", Some(4)),
    ("2001:db9::1", None),
];

fn check_fib6(socket: i32) {
    // The largest 2-byte next hop (the top bit marks a tbl8 pointer).
    const MISS: u64 = 0x7fff;
    // SAFETY: all-zero is a valid `rte_fib6_conf`; the fields used are set
    // below.
    let mut conf: rte_fib6_conf = unsafe { std::mem::zeroed() };
    conf.type_ = rte_fib6_type_RTE_FIB6_TRIE;
    conf.default_nh = MISS;
    conf.max_routes = 16;
    conf.__bindgen_anon_1.trie = rte_fib6_conf__bindgen_ty_1__bindgen_ty_1 {
        nh_sz: rte_fib_trie_nh_sz_RTE_FIB6_TRIE_2B,
        num_tbl8: 64,
    };
    // SAFETY: EAL is initialised; the name is a C string; `conf` outlives
    // the call.
    let fib = unsafe { rte_fib6_create(c"test-fib6".as_ptr(), socket, &mut conf) };
    assert!(!fib.is_null(), "rte_fib6_create");
    for (a, len, nh) in ROUTES6 {
        let ip = v6(a);
        // SAFETY: `fib` is live; `ip` holds 16 bytes.
        let ret = unsafe { rte_fib6_add(fib, ip.as_ptr(), len, u64::from(nh)) };
        assert_eq!(ret, 0);
    }
    let mut ips: Vec<[u8; 16]> = KEYS6.iter().map(|(a, _)| v6(a)).collect();
    let mut out = vec![0u64; ips.len()];
    let n = i32::try_from(ips.len()).unwrap();
    // SAFETY: `fib` is live; `ips` and `out` hold `n` elements each.
    let ret = unsafe { rte_fib6_lookup_bulk(fib, ips.as_mut_ptr(), out.as_mut_ptr(), n) };
    assert_eq!(ret, 0);
    let want: Vec<u64> = KEYS6
        .iter()
        .map(|(_, nh)| nh.map_or(MISS, u64::from))
        .collect();
    assert_eq!(out, want, "rte_fib6_lookup_bulk");
    // SAFETY: `fib` is live and not used afterwards.
    unsafe { rte_fib6_free(fib) };
}

fn check_lpm6(socket: i32) {
    let conf = rte_lpm6_config {
        max_rules: 16,
        number_tbl8s: 64,
        flags: 0,
    };
    // SAFETY: EAL is initialised; the name is a C string; `conf` outlives
    // the call.
    let lpm = unsafe { rte_lpm6_create(c"test-lpm6".as_ptr(), socket, &conf) };
    assert!(!lpm.is_null(), "rte_lpm6_create");
    for (a, len, nh) in ROUTES6 {
        let ip = v6(a);
        // SAFETY: `lpm` is live; `ip` holds 16 bytes.
        assert_eq!(unsafe { rte_lpm6_add(lpm, ip.as_ptr(), len, nh) }, 0);
    }
    let mut ips: Vec<[u8; 16]> = KEYS6.iter().map(|(a, _)| v6(a)).collect();
    let mut out = vec![0i32; ips.len()];
    let n = ips.len() as u32;
    // SAFETY: `lpm` is live; `ips` and `out` hold `n` elements each.
    let ret = unsafe { rte_lpm6_lookup_bulk_func(lpm, ips.as_mut_ptr(), out.as_mut_ptr(), n) };
    assert_eq!(ret, 0);
    // A miss is -1.
    let want: Vec<i32> = KEYS6
        .iter()
        .map(|(_, nh)| nh.map_or(-1, |v| v as i32))
        .collect();
    assert_eq!(out, want, "rte_lpm6_lookup_bulk_func");
    // SAFETY: `lpm` is live and not used afterwards.
    unsafe { rte_lpm6_free(lpm) };
}

/// Bytes allocated from the DPDK heap of `socket`.
fn heap_allocated(socket: i32) -> usize {
    // SAFETY: all-zero is a valid `rte_malloc_socket_stats` (plain integers).
    let mut stats: rte_malloc_socket_stats = unsafe { std::mem::zeroed() };
    // SAFETY: EAL is initialised; `stats` is valid for a write.
    let ret = unsafe { rte_malloc_get_socket_stats(socket, &mut stats) };
    assert_eq!(ret, 0);
    stats.heap_allocsz_bytes
}

#[test]
fn fib_lpm_fib6_lpm6_through_bindings_and_shim() {
    eal_init();
    // SAFETY: EAL is initialised.
    let socket = unsafe { rte_socket_id() } as i32;
    let before = heap_allocated(socket);
    check_fib4(socket);
    check_lpm4(socket);
    check_fib6(socket);
    check_lpm6(socket);
    // Every table was freed: the heap is back where it started.
    assert_eq!(heap_allocated(socket), before, "DPDK heap not returned");

    // SAFETY: EAL is initialised; the result is a static C string.
    let run_dir = unsafe { CStr::from_ptr(rte_eal_get_runtime_dir()) }
        .to_str()
        .unwrap()
        .to_owned();
    // SAFETY: every DPDK object is released; no DPDK call follows.
    assert_eq!(unsafe { rte_eal_cleanup() }, 0);
    assert!(run_dir.contains("cnfwd-ffi-lpm-"), "runtime dir {run_dir}");
    let _ = std::fs::remove_dir_all(&run_dir);
}
