//! `compare --veth` end to end with the Linux kernel as the forwarder (the
//! cnfwd side needs a release `cnfwd`; `cnfwd-bench compare` is run on it
//! by hand, README "Benchmarking"): the namespaces, veth pairs, routes and
//! the search work, and an unknown forwarder or a missing binary is
//! reported per forwarder while the rest of the comparison runs.
//! Needs root; skipped (passing, with a line) otherwise.

use std::path::PathBuf;

use cnfwd_tools::bench::compare::{check_profile, compare_veth, VethOptions};
use cnfwd_tools::bench::netns::can_run;
use cnfwd_tools::bench::profile::Profile;

#[test]
fn kernel_forwards_the_profile_and_bad_forwarders_are_reported() {
    if !can_run("kernel_forwards_the_profile_and_bad_forwarders_are_reported") {
        return;
    }
    // 5 kpps is far below what the kernel forwards: the first trial passes,
    // the search ends at max_rate, then the three latency trials.
    let p = Profile::parse(
        "[flows]\ncount = 32\n[search]\ntrial_duration = 0.5\nmin_rate = 1000\nmax_rate = 5000\nlatency_duration = 0.3\n",
        "<test>",
    )
    .expect("profile");
    let scratch = std::env::temp_dir().join(format!("cnfwd-bench-cmp-test-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let opts = VethOptions {
        forwarders: vec!["kernel".into(), "cnfwd".into(), "vpp".into()],
        cnfwd: PathBuf::from("/nonexistent/cnfwd"),
        fwd_cpu: 1,
        bench_cpu: 0,
    };
    let pb = indicatif::ProgressBar::hidden();
    let run = compare_veth(&p, &opts, &scratch, &pb).expect("comparison");
    let _ = std::fs::remove_dir_all(&scratch);
    let names: Vec<&str> = run.forwarders.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["kernel", "cnfwd", "vpp"]);
    let k = run.forwarders[0]
        .search
        .as_ref()
        .unwrap_or_else(|| panic!("kernel: {:?}", run.forwarders[0].error));
    println!("kernel: NDR {:?}, {} trials", k.ndr, k.trials.len());
    // 5 kpps, or what a starved generator managed to offer of it.
    assert!(
        k.ndr.lower >= 4000.0 && k.ndr.upper.is_none(),
        "the kernel forwards 5 kpps without loss: {:?}",
        k.ndr
    );
    assert_eq!(k.trials.len(), 4);
    assert!(k
        .trials
        .iter()
        .all(|t| t.result.received > 0 && t.result.lost == 0));
    let e = run.forwarders[1].error.as_deref().expect("cnfwd missing");
    assert!(
        e.contains("cargo build --release -p dataplane --bin cnfwd"),
        "{e}"
    );
    let e = run.forwarders[2]
        .error
        .as_deref()
        .expect("unknown forwarder");
    assert!(e.contains("unknown forwarder"), "{e}");
}

#[test]
fn profiles_the_veth_comparison_cannot_route_name_the_field() {
    let cases = [
        ("[frames]\nvlan = 5", "frames.vlan"),
        ("[frames]\nsizes = [80]\n[flows]\nip = \"ipv6\"\nsrc = \"2001:db8::2/128\"\ndst = \"2001:db8:3::/120\"", "flows.ip"),
        ("[flows]\nsrc = \"10.9.0.1/32\"", "flows.src"),
        ("[flows]\ndst = \"10.1.0.0/16\"", "flows.dst"),
    ];
    for (text, field) in cases {
        let p = Profile::parse(text, "<test>").expect("valid profile");
        let e = check_profile(&p).expect_err(text);
        assert!(e.starts_with(field), "{text:?}: {e}");
    }
}
