//! `cnfwd-pcapdiff EXPECTED ACTUAL`: compare two captures packet by packet and
//! print which header field differs in each differing packet. Exit status 0
//! when identical (timestamps aside), 1 when different, 2 on a read error.

use std::path::PathBuf;
use std::process::ExitCode;

use cnfwd_tools::pcapdiff::{diff, read_frames};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [expected, actual] = args.as_slice() else {
        eprintln!("usage: cnfwd-pcapdiff EXPECTED.pcap ACTUAL.pcap");
        return ExitCode::from(2);
    };
    let read = |p: &PathBuf| {
        read_frames(p).map_err(|e| {
            eprintln!("cnfwd-pcapdiff: {}: {e}", p.display());
        })
    };
    let (Ok(e), Ok(a)) = (read(expected), read(actual)) else {
        return ExitCode::from(2);
    };
    let d = diff(&e, &a);
    if d.is_empty() {
        println!("identical: {} packets", e.len());
        ExitCode::SUCCESS
    } else {
        for line in d {
            println!("{line}");
        }
        ExitCode::FAILURE
    }
}
