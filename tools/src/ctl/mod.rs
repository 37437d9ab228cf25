//! `cnfwdctl`: the command line ([`cli`]), the rendering of replies
//! ([`render`]) and [`run`], which ties them to a
//! [`dataplane::control::Client`].
//!
//! Exit status: 0 on success, 1 on an error reply (message on stderr), 2 on
//! a usage or connection error (the message names the socket path).
//! `health` is a probe: 1 also when the reply says unhealthy ([`health`]).

pub mod cli;
pub mod health;
pub mod pages;
pub mod render;

use std::io::Write;
use std::time::Duration;

use clap::CommandFactory;
use dataplane::control::Client;

use cli::{request_for, Cli, Command};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the server answered with an error.
pub const EXIT_ERROR_REPLY: u8 = 1;
/// Exit status: bad command line, or no conversation with the server.
pub const EXIT_USAGE: u8 = 2;

/// Runs a parsed command line, printing to `out` (the reply) and `err`
/// (errors); returns the exit status.
pub fn run(cli: &Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "cnfwdctl", out);
        return EXIT_OK;
    }
    let request = match request_for(&cli.command) {
        Ok(Some(r)) => r,
        Ok(None) => return EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "cnfwdctl: {e}");
            return EXIT_USAGE;
        }
    };
    let timeout = if cli.timeout.is_finite() && cli.timeout > 0.0 {
        Duration::from_secs_f64(cli.timeout.min(86_400.0))
    } else {
        let _ = writeln!(
            err,
            "cnfwdctl: --timeout must be a positive number of seconds"
        );
        return EXIT_USAGE;
    };
    let reply = Client::connect(&cli.socket, timeout).and_then(|mut c| {
        // Replies larger than one message come in pages.
        match (request.command.as_str(), &request.raw, &request.params) {
            ("/routes", None, params) => pages::all_routes(&mut c, params.as_ref()),
            ("/config", None, None) => pages::config(&mut c, cli.json),
            _ => c.request(&request.message()),
        }
    });
    match reply {
        Err(e) => {
            let _ = writeln!(err, "cnfwdctl: {e}");
            EXIT_USAGE
        }
        Ok(Err(msg)) => {
            let _ = writeln!(err, "cnfwdctl: {}: {msg}", request.command);
            EXIT_ERROR_REPLY
        }
        Ok(Ok(value)) => {
            let probe = match &cli.command {
                Command::Health { ready } => Some(health::verdict(&value, *ready)),
                _ => None,
            };
            let code = match &probe {
                Some((false, _)) => EXIT_ERROR_REPLY,
                _ => EXIT_OK,
            };
            let text = match probe {
                _ if cli.json => {
                    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
                    s.push('\n');
                    s
                }
                Some((_, line)) => line + "\n",
                None => render::render(&value),
            };
            // A closed pipe (`| head`) is not the server's error.
            let _ = out.write_all(text.as_bytes());
            code
        }
    }
}
