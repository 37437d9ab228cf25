//! Target 3: the configuration parser, validation/resolution and the
//! compilation into the data plane's tables.
//!
//! Checks: no panic; a configuration that resolves builds its tables, and
//! what `/config/save` would write for it (`toml::to_string`) parses and
//! resolves to the same model (a saved configuration reloads as it ran).
#![no_main]

use dataplane::tables::Tables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = cnfwd_config::parse(text, "<fuzz>") else {
        return;
    };
    let Ok(r) = cnfwd_config::resolve(&cfg) else {
        return;
    };
    // Tables can refuse what the model accepts (e.g. a FIB limit); that is a
    // typed error, not a crash.
    let _ = Tables::build(&r, &[]);
    let saved = toml::to_string(&cfg).expect("a parsed configuration serialises");
    let again = cnfwd_config::parse(&saved, "<saved>")
        .unwrap_or_else(|e| panic!("saved configuration does not parse: {e}\n{saved}"));
    let r2 = cnfwd_config::resolve(&again)
        .unwrap_or_else(|e| panic!("saved configuration does not resolve: {e:?}\n{saved}"));
    assert!(r == r2, "saved configuration resolves differently\n{saved}");
});
