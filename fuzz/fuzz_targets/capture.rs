//! Target 2: the pcap/pcapng reader on arbitrary files.
//!
//! Checks: no panic; the reader ends (every call makes progress: at most one
//! call per input byte plus the end); `data.len() <= orig_len`; after a fatal
//! error every further call fails again; `packets_read` counts the frames
//! returned; the frames read written back with `CaptureWriter` and read
//! again are the same bytes.
#![no_main]

use std::io::Cursor;

use dataplane::io::pcap::file::{CaptureReader, CaptureWriter};
use libfuzzer_sys::fuzz_target;

const LOCAL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::new(Cursor::new(data)) else {
        return;
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(calls <= data.len() + 2, "reader makes no progress");
        match r.next_frame(LOCAL_MAC) {
            Ok(Some(f)) => {
                assert!(
                    f.data.len() as u64 <= u64::from(f.orig_len),
                    "captured {} > orig_len {}",
                    f.data.len(),
                    f.orig_len
                );
                frames.push(f.data.to_vec());
            }
            Ok(None) => break,
            Err(e) if e.is_record_error() => continue,
            Err(e) => {
                let again = r.next_frame(LOCAL_MAC);
                assert!(again.is_err(), "fatal error {e} not sticky");
                break;
            }
        }
    }
    assert_eq!(r.packets_read(), frames.len() as u64);

    let mut w = CaptureWriter::new(Vec::new()).expect("writing to memory");
    for f in &frames {
        w.write(0, f).expect("writing to memory");
    }
    let bytes = w.into_inner().expect("writing to memory");
    let mut again = CaptureReader::new(Cursor::new(&bytes[..])).expect("own output reads");
    for (i, f) in frames.iter().enumerate() {
        match again.next_frame(LOCAL_MAC) {
            Ok(Some(g)) => assert_eq!(g.data, &f[..], "frame {i} changed through write+read"),
            other => panic!("frame {i} lost through write+read: {other:?}"),
        }
    }
    assert!(matches!(again.next_frame(LOCAL_MAC), Ok(None)));
});
