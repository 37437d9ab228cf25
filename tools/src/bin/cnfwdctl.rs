//! `cnfwdctl [--socket PATH] [--json] <command> [args]`: talk to a running
//! cnfwd through its management socket. See `cnfwdctl --help`.
//! Exit status: 0 success, 1 error reply, 2 usage or connection error.

use std::process::ExitCode;

use clap::Parser;
use cnfwd_tools::ctl::{cli::Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = run(
        &cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
