//! Target 5: the CSN's DNS response parser (UDP and TCP framing).
//!
//! Checks: no panic; a parsed response's chain starts with its question, is
//! at most `MAX_CHAIN` long, and every address answer's owner is a name of
//! the chain; cutting the input as a TCP/53 stream accounts for every byte.
#![no_main]

use dataplane::csn::dns::{parse_response, split_tcp_messages, MAX_CHAIN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    let (msgs, rest) = split_tcp_messages(data);
    let used: usize = msgs.iter().map(|m| m.len() + 2).sum::<usize>() + rest.len();
    assert_eq!(used, data.len(), "TCP split loses or invents bytes");
    for m in msgs {
        check(m);
    }
});

fn check(msg: &[u8]) {
    let Ok(r) = parse_response(msg) else {
        return;
    };
    assert!(
        !r.chain.is_empty() && r.chain.len() <= MAX_CHAIN,
        "chain {:?}",
        r.chain
    );
    assert_eq!(r.chain[0], r.question);
    for a in &r.addresses {
        assert!(
            r.chain.contains(&a.owner),
            "answer owner {} not in chain {:?}",
            a.owner,
            r.chain
        );
    }
}
