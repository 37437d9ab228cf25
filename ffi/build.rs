//! Build script of `dpdk-sys`.
//!
//! Without the `bindings` feature it does nothing, so the workspace builds on
//! machines without DPDK. With it: finds `libdpdk` with pkg-config (dynamic
//! linking), runs bindgen over the headers in `src/wrapper.h`, and compiles
//! the C shim `src/shim.c` with the same C flags.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Cargo sets CARGO_FEATURE_BINDINGS exactly when it compiles this script
    // with `feature = "bindings"`, the only case where the optional
    // build-dependencies (bindgen, cc, pkg-config) exist. Without the feature
    // nothing is probed or generated and the crate is empty.
    #[cfg(feature = "bindings")]
    if std::env::var_os("CARGO_FEATURE_BINDINGS").is_some() {
        with_dpdk::build();
    }
}

#[cfg(feature = "bindings")]
mod with_dpdk {
    use std::{env, path::PathBuf, process};

    const APT_HINT: &str = "apt-get install -y dpdk-dev libdpdk-dev libclang-dev clang pkg-config";

    /// Prints one clear error for Cargo to show, then the details, and stops
    /// the build.
    fn fail(what: &str, detail: &dyn std::fmt::Display) -> ! {
        eprintln!(
            "error: dpdk-sys (feature `bindings`) needs DPDK and libclang: {what}.\n\
             error: on Debian 12 install them with: {APT_HINT}\n\
             details: {detail}"
        );
        process::exit(1);
    }

    pub fn build() {
        println!("cargo:rerun-if-changed=src/wrapper.h");
        println!("cargo:rerun-if-changed=src/shim.c");

        // Probe first without printing link flags, so a missing DPDK stops
        // the build before bindgen runs; the link flags are printed after
        // the shim (see below).
        let dpdk = probe(false);
        // Every flag of `pkg-config --cflags libdpdk`, in order: the include
        // dirs, `-include rte_config.h`, `-march=corei7`, defines.
        let cflags = cflags();

        let bindings = bindgen::Builder::default()
            .header("src/wrapper.h")
            .clang_args(&cflags)
            .allowlist_function("rte_.*")
            .allowlist_type("rte_.*")
            .allowlist_var("RTE_.*")
            // packed + bitfield + flexible array: cannot derive Debug.
            .opaque_type("rte_gtp_psc_generic_hdr")
            .generate_comments(false)
            .use_core()
            .layout_tests(true)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            .generate()
            .unwrap_or_else(|e| fail("bindgen failed on the DPDK headers", &e));
        let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        bindings
            .write_to_file(out.join("bindings.rs"))
            .unwrap_or_else(|e| fail("cannot write bindings.rs", &e));

        let mut shim = cc::Build::new();
        shim.file("src/shim.c").warnings(true).opt_level(2);
        for flag in &cflags {
            shim.flag(flag);
        }
        shim.compile("cnfwd_dpdk_shim");
        // The DPDK libraries go on the link line after the static shim that
        // calls into them (matters with `-Wl,--as-needed`).
        probe(true);

        // For crates that depend on this one (`links = "dpdk"`): they see
        // these as DEP_DPDK_INCLUDE and DEP_DPDK_CFLAGS.
        let include = env::join_paths(&dpdk.include_paths)
            .unwrap_or_else(|e| fail("bad include path from pkg-config", &e));
        println!("cargo:include={}", include.to_string_lossy());
        println!("cargo:cflags={}", cflags.join(" "));
    }

    /// Finds `libdpdk` (dynamic linking); with `link`, prints its
    /// `cargo:rustc-link-*` lines.
    fn probe(link: bool) -> pkg_config::Library {
        pkg_config::Config::new()
            .cargo_metadata(link)
            .probe("libdpdk")
            .unwrap_or_else(|e| fail("pkg-config cannot find libdpdk", &e))
    }

    /// `pkg-config --cflags libdpdk`, split into arguments (`-include` and
    /// its file stay two arguments, as the compilers expect).
    fn cflags() -> Vec<String> {
        let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
        let out = process::Command::new(&pc)
            .args(["--cflags", "libdpdk"])
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run `{pc}`"), &e));
        if !out.status.success() {
            fail(
                &format!("`{pc} --cflags libdpdk` failed"),
                &String::from_utf8_lossy(&out.stderr).trim(),
            );
        }
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}
