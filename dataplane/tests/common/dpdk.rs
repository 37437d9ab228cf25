//! EAL arguments for the DPDK tests: no hugepages, no PCI, no shared
//! config, one core, a file prefix unique to this process and test binary.

/// The EAL command line (without the program name) for the test binary
/// `tag`, with `extra` arguments (vdevs) inserted before the log level.
pub fn eal_args(tag: &str, extra: &[&str]) -> Vec<String> {
    let prefix = format!("cnfwd-{tag}-{}", std::process::id());
    let mut args: Vec<String> = [
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        &prefix,
        "-l",
        "0",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    args.extend(["--log-level".to_string(), "lib.eal:notice".to_string()]);
    args
}
