//! Traffic profiles: the examples under tools/profiles/ parse, and bad
//! profiles are refused with an error naming the field.

use cnfwd_tools::bench::profile::{IpVersion, Profile, ProfileError, Rate, L4};

fn field_of(text: &str) -> String {
    match Profile::parse(text, "p.toml") {
        Err(ProfileError::Field { field, reason, .. }) => {
            assert!(!reason.is_empty());
            field
        }
        other => panic!("expected a field error for {text:?}, got {other:?}"),
    }
}

#[test]
fn examples_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tools/profiles") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let p = Profile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(p.sizes.iter().all(|&s| s >= p.min_size()));
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} example profiles");
}

#[test]
fn fields_are_read() {
    let p = Profile::parse(
        "name = \"x\"\n[frames]\nsizes = \"imix\"\nvlan = 7\n[flows]\ncount = 10\n\
         [traffic]\nrate = 1234\nduration = 2.5\n[search]\nwidth = 0.01\n",
        "p.toml",
    )
    .expect("valid");
    assert_eq!(p.sizes.len(), 12);
    assert_eq!(p.sizes.iter().filter(|&&s| s == 64).count(), 7);
    assert_eq!(
        (p.vlan, p.flows, p.ip, p.l4),
        (Some(7), 10, IpVersion::Ipv4, L4::Udp)
    );
    assert_eq!(p.rate, Rate::Pps(1234.0));
    assert_eq!(p.search.width, 0.01);
    let p = Profile::parse(
        "[frames]\nsizes = [100]\n[flows]\nip = \"ipv6\"\nl4 = \"tcp\"\ndst = \"2001:db8:9::/120\"\n",
        "p.toml",
    )
    .expect("valid");
    assert_eq!((p.ip, p.l4, p.min_size()), (IpVersion::Ipv6, L4::Tcp, 92));
}

#[test]
fn bad_profiles_name_the_field() {
    let cases = [
        ("[flows]\ncount = 0", "flows.count"),
        ("[flows]\ncount = \"many\"", "flows.count"),
        ("[flows]\ncounts = 5", "flows.counts"),
        ("[flows]\nip = \"ipv5\"", "flows.ip"),
        ("[flows]\nl4 = \"sctp\"", "flows.l4"),
        ("[flows]\ndst = \"10.0.0.0/33\"", "flows.dst"),
        ("[flows]\nip = \"ipv6\"\ndst = \"10.0.0.0/8\"", "flows.dst"),
        ("[flows]\nsrc = \"2001:db8::1/128\"", "flows.src"),
        ("[flows]\ndst_port = 70000", "flows.dst_port"),
        ("[frames]\nsizes = []", "frames.sizes"),
        ("[frames]\nsizes = [64, 20]", "frames.sizes[1]"),
        ("[frames]\nsizes = [64, 9999]", "frames.sizes[1]"),
        ("[frames]\nvlan = 4095", "frames.vlan"),
        (
            "[frames]\nsizes = [64]\nvlan = 10\n[flows]\nl4 = \"tcp\"",
            "frames.sizes[0]",
        ),
        ("[traffic]\nrate = \"fast\"", "traffic.rate"),
        ("[traffic]\nrate = 0", "traffic.rate"),
        ("[traffic]\nduration = -1", "traffic.duration"),
        ("[search]\nwidth = 0", "search.width"),
        ("[search]\npdr_loss = 0.6", "search.pdr_loss"),
        (
            "[search]\nmin_rate = 5000\nmax_rate = 100",
            "search.max_rate",
        ),
        (
            "[search]\nndr_loss = 0.01\npdr_loss = 0.001",
            "search.pdr_loss",
        ),
        ("frames = 3", "frames"),
        ("speed = 3", "speed"),
    ];
    for (text, field) in cases {
        assert_eq!(field_of(text), field, "profile {text:?}");
    }
    assert!(matches!(
        Profile::parse("[flows", "p.toml"),
        Err(ProfileError::Syntax { .. })
    ));
    let e = Profile::parse("[flows]\nroutes = \"/nonexistent/routes.txt\"", "p.toml").unwrap_err();
    assert!(e.to_string().contains("flows.routes"), "{e}");
}
