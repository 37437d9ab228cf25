//! Target 1: a burst of arbitrary frames through the whole pipeline (the
//! engine's worker on the memory backend, as the replay backend drives it:
//! one worker, packet clock, run to completion) with the fixed
//! multi-network configuration of `cnfwd_fuzz::CONFIG`.
//!
//! Checks: every packet received (plus every copy made by flooding and every
//! frame the slow path generated) is transmitted or counted under exactly
//! one drop reason; the backend saw exactly the transmitted count; nothing
//! stays held; every frame that leaves is well formed for its port
//! (`cnfwd_fuzz::wellformed`).
#![no_main]

use std::sync::OnceLock;

use cnfwd_fuzz::{frames, wellformed, CONFIG, PORTS};
use dataplane::engine::Worker;
use dataplane::io::memory::MemoryBackend;
use dataplane::tables::Tables;
use libfuzzer_sys::fuzz_target;

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let cfg = cnfwd_config::parse(CONFIG, "<fuzz>").expect("fuzz config parses");
        let r = cnfwd_config::resolve(&cfg).expect("fuzz config resolves");
        Tables::build(&r, &[]).expect("fuzz tables build")
    })
}

fuzz_target!(|data: &[u8]| {
    let t = tables();
    let input = frames::split(data, PORTS.len() as u8);
    let mut backend = MemoryBackend::new(PORTS.len());
    for (port, f) in &input.frames {
        backend.inject(u16::from(*port), f);
    }
    let mut w = Worker::new(t, input.burst);
    w.use_packet_clock();
    w.run_to_completion(&mut backend, t)
        .expect("the memory backend never fails");

    let (rx, tx, dropped) = w.stats.totals();
    assert_eq!(
        rx,
        input.frames.len() as u64,
        "every injected frame is received once"
    );
    assert_eq!(
        rx + w.stats.added(),
        tx + dropped,
        "rx {rx} + added {} (replicated, generated, extra fragments) != tx {tx} + dropped {dropped}",
        w.stats.added()
    );
    assert_eq!(w.held(), 0, "nothing stays in the DNS hold after the run");
    assert_eq!(
        w.held_for_resolution(),
        0,
        "nothing stays held for resolution"
    );
    let mut sent = 0u64;
    for port in 0..PORTS.len() {
        let out = backend.sent(port as u16);
        sent += out.len() as u64;
        let c = &w.stats.ports[port];
        assert_eq!(c.tx_packets, out.len() as u64, "port {port} tx_packets");
        let bytes: u64 = out.iter().map(|f| f.len() as u64).sum();
        assert_eq!(c.tx_bytes, bytes, "port {port} tx_bytes");
        for f in &out {
            if let Err(e) = wellformed::check(port, f) {
                panic!("malformed frame on port {port}: {e}\n{f:02x?}");
            }
        }
    }
    assert_eq!(sent, tx, "frames the backend got == tx counters");
});
