//! `cnfwdctl`'s command line, and how each friendly form maps to a socket
//! request (command + JSON parameters). The mapping is pure, so it is
//! tested without a server.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::{json, Map, Value};

/// The default socket path (also `$CNFWD_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/cnfwd/cnfwd.sock";

/// cnfwdctl: query and change a running cnfwd through its management socket
/// (DPDK telemetry v2 protocol). Without a command: an interactive prompt
/// (history, Tab completion, `quit`), like vppctl.
#[derive(Debug, Parser)]
#[command(name = "cnfwdctl", version, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    /// The management socket.
    #[arg(long, short = 's', global = true, env = "CNFWD_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the reply value as pretty JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for the server.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub timeout: f64,
    /// What to do (none: the interactive prompt).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a request as is: "/command" or "/command,params".
    Raw {
        /// The request.
        request: String,
    },
    /// List the socket's commands.
    List,
    /// Help on a cnfwdctl command (`help show routes`, printed without
    /// connecting) or on a socket command (`help /routes`, asked of the server).
    Help {
        /// The command: cnfwdctl words, or a socket command such as /routes.
        command: Vec<String>,
    },
    /// Show state (read commands).
    #[command(subcommand)]
    Show(Show),
    /// Add or remove static routes.
    #[command(subcommand)]
    Route(Route),
    /// Add or remove static neighbours.
    #[command(subcommand)]
    Neighbor(Neighbor),
    /// Add or remove CSN egress allowlist entries.
    #[command(subcommand)]
    Allow(Allow),
    /// Apply or save the configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Clear state.
    #[command(subcommand)]
    Clear(Clear),
    /// Packet trace.
    #[command(subcommand)]
    Trace(Trace),
    /// Live packet capture of a port into a pcapng file (like VPP's
    /// `pcap trace`): start, stop, status.
    #[command(subcommand)]
    Capture(super::capture::Capture),
    /// Probe: exit 0 when live (every worker polling), 1 when not, 2 when
    /// the socket cannot be reached; prints one line of why (--json: the
    /// /health reply).
    Health {
        /// Judge readiness instead: workers forwarding on the applied
        /// configuration and every port up (what /readyz answers).
        #[arg(long)]
        ready: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `show ...`
#[derive(Debug, Subcommand)]
pub enum Show {
    /// Version, pid, uptime (/info).
    Info,
    /// Health (/health).
    Health,
    /// Ports and their counters (/ports).
    Ports,
    /// Networks (/networks).
    Networks,
    /// VRFs (/vrfs).
    Vrfs,
    /// Routes of every VRF or of one, optionally inside a prefix (/routes).
    Routes {
        /// The VRF (L3 isolation domain); a prefix here means every VRF.
        vrf: Option<String>,
        /// Only routes inside this prefix.
        prefix: Option<String>,
    },
    /// Neighbours (/neighbors).
    Neighbors,
    /// Drops by reason (/drops).
    Drops,
    /// Workers (/workers).
    Workers,
    /// The running configuration (/config).
    Config,
    /// All counters (/stats).
    Stats,
    /// The packet trace (/trace/show).
    Trace,
}

/// `route ...`
#[derive(Debug, Subcommand)]
pub enum Route {
    /// route add <vrf> <prefix> via <ip> | dev <network> (or both).
    Add {
        /// The VRF.
        vrf: String,
        /// The prefix.
        prefix: String,
        /// `via <ip>` and/or `dev <network>`.
        #[arg(num_args = 2.., required = true, value_names = ["via|dev", "TARGET"])]
        target: Vec<String>,
    },
    /// route del <vrf> <prefix>
    Del {
        /// The VRF.
        vrf: String,
        /// The prefix.
        prefix: String,
    },
}

/// `neighbor ...`
#[derive(Debug, Subcommand)]
pub enum Neighbor {
    /// neighbor add <network> <ip> <mac>
    Add {
        /// The L3 network.
        network: String,
        /// The neighbour's address.
        ip: String,
        /// Its MAC.
        mac: String,
    },
    /// neighbor del <network> <ip>
    Del {
        /// The L3 network.
        network: String,
        /// The neighbour's address.
        ip: String,
    },
}

/// `allow ...`
#[derive(Debug, Subcommand)]
pub enum Allow {
    /// allow add <category> <domain_or_cidr> [port]
    Add {
        /// The endpoint category.
        category: String,
        /// A domain name or CIDR.
        domain_name: String,
        /// The port.
        port: Option<u16>,
    },
    /// allow del <category> <domain_or_cidr> [port]
    Del {
        /// The endpoint category.
        category: String,
        /// A domain name or CIDR.
        domain_name: String,
        /// The port.
        port: Option<u16>,
    },
}

/// `config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Apply a configuration file (sent as {"toml": "<file text>"}, or
    /// when larger than 128 KiB as {"path": "<absolute path>"}, read by cnfwd).
    Apply {
        /// The TOML file.
        file: PathBuf,
    },
    /// Save the running configuration.
    Save,
}

/// `clear ...`
#[derive(Debug, Subcommand)]
pub enum Clear {
    /// Zero every counter (/stats/clear).
    Counters,
}

/// `trace ...`
#[derive(Debug, Subcommand)]
pub enum Trace {
    /// Trace the next <count> packets, optionally of one port.
    Start {
        /// How many packets.
        count: u64,
        /// Only this port.
        port: Option<String>,
    },
    /// Stop tracing (the records stay).
    Stop,
    /// Show the trace.
    Show,
}

/// A socket request: the command and its JSON parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `/command`.
    pub command: String,
    /// Parameters, sent after the comma as JSON.
    pub params: Option<Value>,
    /// For `raw`: the exact text to send instead.
    pub raw: Option<String>,
}

impl Request {
    pub(super) fn new(command: &str, params: Option<Value>) -> Self {
        Request {
            command: command.to_string(),
            params,
            raw: None,
        }
    }

    /// The message sent on the socket.
    pub fn message(&self) -> String {
        match (&self.raw, &self.params) {
            (Some(r), _) => r.clone(),
            (None, Some(p)) => format!("{},{p}", self.command),
            (None, None) => self.command.clone(),
        }
    }
}

/// Why a command line could not become a request (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// A file to send could not be read.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The request for a command line (`None`: not a socket command, e.g.
/// `completions` or help on a cnfwdctl command). Reads the file of
/// `config apply`.
pub fn request_for(cmd: &Command) -> Result<Option<Request>, UsageError> {
    let r = match cmd {
        Command::Raw { request } => {
            let command = request.split(',').next().unwrap_or("").to_string();
            if !command.starts_with('/') {
                return Err(UsageError::Usage(format!(
                    "a request starts with '/': \"/command\" or \"/command,params\", not {request:?}"
                )));
            }
            Request {
                command,
                params: None,
                raw: Some(request.clone()),
            }
        }
        Command::List => Request::new("/", None),
        Command::Help { command } if local_help(command).is_some() => return Ok(None),
        Command::Help { command } => {
            let c = command.join(" ");
            let c = if c.starts_with('/') {
                c
            } else {
                format!("/{c}")
            };
            Request {
                command: "/help".into(),
                params: None,
                raw: Some(format!("/help,{c}")),
            }
        }
        Command::Show(s) => match s {
            Show::Info => Request::new("/info", None),
            Show::Health => Request::new("/health", None),
            Show::Ports => Request::new("/ports", None),
            Show::Networks => Request::new("/networks", None),
            Show::Vrfs => Request::new("/vrfs", None),
            Show::Routes { vrf, prefix } => {
                let mut p = Map::new();
                match (vrf, prefix) {
                    // `show routes 10.0.0.0/8`: a prefix in every VRF.
                    (Some(v), None) if looks_like_prefix(v) => {
                        p.insert("prefix".into(), json!(with_length(v)));
                    }
                    (v, prefix) => {
                        if let Some(v) = v {
                            p.insert("vrf".into(), json!(v));
                        }
                        if let Some(prefix) = prefix {
                            p.insert("prefix".into(), json!(with_length(prefix)));
                        }
                    }
                }
                let params = (!p.is_empty()).then_some(Value::Object(p));
                Request::new("/routes", params)
            }
            Show::Neighbors => Request::new("/neighbors", None),
            Show::Drops => Request::new("/drops", None),
            Show::Workers => Request::new("/workers", None),
            Show::Config => Request::new("/config", None),
            Show::Stats => Request::new("/stats", None),
            Show::Trace => Request::new("/trace/show", None),
        },
        Command::Route(Route::Add {
            vrf,
            prefix,
            target,
        }) => {
            let mut p = Map::new();
            p.insert("vrf".into(), json!(vrf));
            p.insert("prefix".into(), json!(prefix));
            for pair in target.chunks(2) {
                match pair {
                    [k, v] if k == "via" && !p.contains_key("next_hop") => {
                        p.insert("next_hop".into(), json!(v));
                    }
                    [k, v] if k == "dev" && !p.contains_key("network") => {
                        p.insert("network".into(), json!(v));
                    }
                    _ => {
                        return Err(UsageError::Usage(format!(
                            "route add {vrf} {prefix}: expected `via <ip>` and/or `dev <network>`, got {:?}",
                            target.join(" ")
                        )))
                    }
                }
            }
            Request::new("/route/add", Some(Value::Object(p)))
        }
        Command::Route(Route::Del { vrf, prefix }) => {
            Request::new("/route/del", Some(json!({"vrf": vrf, "prefix": prefix})))
        }
        Command::Neighbor(Neighbor::Add { network, ip, mac }) => Request::new(
            "/neighbor/add",
            Some(json!({"network": network, "ip": ip, "mac": mac})),
        ),
        Command::Neighbor(Neighbor::Del { network, ip }) => {
            Request::new("/neighbor/del", Some(json!({"network": network, "ip": ip})))
        }
        Command::Allow(a) => {
            let (command, category, domain_name, port) = match a {
                Allow::Add {
                    category,
                    domain_name,
                    port,
                } => ("/allowlist/add", category, domain_name, port),
                Allow::Del {
                    category,
                    domain_name,
                    port,
                } => ("/allowlist/del", category, domain_name, port),
            };
            let mut p = Map::new();
            p.insert("category".into(), json!(category));
            p.insert("domain_name".into(), json!(domain_name));
            if let Some(port) = port {
                p.insert("port".into(), json!(port));
            }
            Request::new(command, Some(Value::Object(p)))
        }
        Command::Config(ConfigCmd::Apply { file }) => {
            let params = super::pages::apply_params(file).map_err(|source| UsageError::File {
                path: file.clone(),
                source,
            })?;
            Request::new("/config/apply", Some(params))
        }
        Command::Config(ConfigCmd::Save) => Request::new("/config/save", None),
        Command::Clear(Clear::Counters) => Request::new("/stats/clear", None),
        Command::Trace(Trace::Start { count, port }) => {
            let mut p = Map::new();
            p.insert("count".into(), json!(count));
            if let Some(port) = port {
                p.insert("port".into(), json!(port));
            }
            Request::new("/trace/start", Some(Value::Object(p)))
        }
        Command::Trace(Trace::Stop) => Request::new("/trace/stop", None),
        Command::Trace(Trace::Show) => Request::new("/trace/show", None),
        Command::Capture(c) => super::capture::request(c)?,
        Command::Health { .. } => Request::new("/health", None),
        Command::Completions { .. } => return Ok(None),
    };
    Ok(Some(r))
}

/// True for an address or a prefix (as opposed to a VRF name).
fn looks_like_prefix(s: &str) -> bool {
    s.parse::<ipnet::IpNet>().is_ok() || s.parse::<std::net::IpAddr>().is_ok()
}

/// A bare address as a host prefix (`/routes` takes prefixes only);
/// anything else unchanged (the server names what is wrong with it).
fn with_length(s: &str) -> String {
    match s.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => format!("{a}/32"),
        Ok(std::net::IpAddr::V6(a)) => format!("{a}/128"),
        Err(_) => s.to_string(),
    }
}

/// The long help of the cnfwdctl command that `words` name (`[]`: the top
/// level; `["show", "routes"]`: that subcommand), or `None` when the first
/// word is no cnfwdctl command (then `help` asks the server about it).
pub fn local_help(words: &[String]) -> Option<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut cur = &cmd;
    let mut path = vec!["cnfwdctl".to_string()];
    for (i, w) in words.iter().enumerate() {
        match cur.find_subcommand(w) {
            Some(sub) => {
                path.push(w.clone());
                cur = sub;
            }
            None if i == 0 => return None,
            None => break,
        }
    }
    let mut c = cur.clone().bin_name(path.join(" "));
    Some(c.render_long_help().to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The request message a command line becomes ("" for a local
    /// command), or the parse error.
    pub(crate) fn msg(args: &[&str]) -> Result<String, String> {
        let mut argv = vec!["cnfwdctl"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let command = cli.command.ok_or("no command")?;
        request_for(&command)
            .map(|r| r.map(|r| r.message()).unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn friendly_forms_map_to_socket_requests() {
        assert_eq!(msg(&["list"]).unwrap(), "/");
        assert_eq!(msg(&["help", "routes"]).unwrap(), "/help,/routes");
        assert_eq!(msg(&["help", "/routes"]).unwrap(), "/help,/routes");
        assert_eq!(
            msg(&["raw", "/routes,{\"vrf\":\"a\"}"]).unwrap(),
            "/routes,{\"vrf\":\"a\"}"
        );
        assert_eq!(msg(&["show", "ports"]).unwrap(), "/ports");
        assert_eq!(msg(&["show", "trace"]).unwrap(), "/trace/show");
        assert_eq!(
            msg(&["show", "routes", "blue", "10.0.0.0/8"]).unwrap(),
            r#"/routes,{"prefix":"10.0.0.0/8","vrf":"blue"}"#
        );
        assert_eq!(
            msg(&["show", "routes", "blue"]).unwrap(),
            r#"/routes,{"vrf":"blue"}"#
        );
        assert_eq!(
            msg(&["route", "add", "blue", "0.0.0.0/0", "via", "10.0.0.1"]).unwrap(),
            r#"/route/add,{"next_hop":"10.0.0.1","prefix":"0.0.0.0/0","vrf":"blue"}"#
        );
        assert_eq!(
            msg(&[
                "route",
                "add",
                "blue",
                "10.9.0.0/16",
                "dev",
                "red-net",
                "via",
                "10.9.0.1"
            ])
            .unwrap(),
            r#"/route/add,{"network":"red-net","next_hop":"10.9.0.1","prefix":"10.9.0.0/16","vrf":"blue"}"#
        );
        assert_eq!(
            msg(&["route", "del", "blue", "10.9.0.0/16"]).unwrap(),
            r#"/route/del,{"prefix":"10.9.0.0/16","vrf":"blue"}"#
        );
        assert_eq!(
            msg(&["neighbor", "add", "n1", "10.0.0.2", "02:00:00:00:00:09"]).unwrap(),
            r#"/neighbor/add,{"ip":"10.0.0.2","mac":"02:00:00:00:00:09","network":"n1"}"#
        );
        assert_eq!(
            msg(&["neighbor", "del", "n1", "10.0.0.2"]).unwrap(),
            r#"/neighbor/del,{"ip":"10.0.0.2","network":"n1"}"#
        );
        assert_eq!(
            msg(&["allow", "add", "updates", "example.com", "443"]).unwrap(),
            r#"/allowlist/add,{"category":"updates","domain_name":"example.com","port":443}"#
        );
        assert_eq!(
            msg(&["allow", "del", "updates", "192.0.2.0/24"]).unwrap(),
            r#"/allowlist/del,{"category":"updates","domain_name":"192.0.2.0/24"}"#
        );
        assert_eq!(msg(&["config", "save"]).unwrap(), "/config/save");
        assert_eq!(msg(&["clear", "counters"]).unwrap(), "/stats/clear");
        assert_eq!(
            msg(&["trace", "start", "5", "p0"]).unwrap(),
            r#"/trace/start,{"count":5,"port":"p0"}"#
        );
        assert_eq!(msg(&["trace", "show"]).unwrap(), "/trace/show");
        assert_eq!(msg(&["trace", "stop"]).unwrap(), "/trace/stop");
        assert_eq!(msg(&["show", "routes"]).unwrap(), "/routes");
        assert_eq!(
            msg(&["show", "routes", "10.0.0.0/8"]).unwrap(),
            r#"/routes,{"prefix":"10.0.0.0/8"}"#
        );
        assert_eq!(
            msg(&["show", "routes", "2001:db8::1"]).unwrap(),
            r#"/routes,{"prefix":"2001:db8::1/128"}"#
        );
        assert_eq!(
            msg(&["show", "routes", "red", "10.1.2.3"]).unwrap(),
            r#"/routes,{"prefix":"10.1.2.3/32","vrf":"red"}"#
        );
        // Help on cnfwdctl's own commands needs no server.
        assert_eq!(msg(&["help", "show"]).unwrap(), "");
        assert_eq!(msg(&["help", "show", "routes"]).unwrap(), "");
        assert_eq!(msg(&["help"]).unwrap(), "");
        assert_eq!(msg(&["health"]).unwrap(), "/health");
        assert_eq!(msg(&["health", "--ready"]).unwrap(), "/health");
    }

    #[test]
    fn local_help_names_the_subcommand() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let h = local_help(&w(&["show"])).unwrap();
        assert!(
            h.contains("Usage: cnfwdctl show [OPTIONS] <COMMAND>"),
            "{h}"
        );
        assert!(h.contains("routes"), "{h}");
        let h = local_help(&w(&["show", "routes"])).unwrap();
        assert!(
            h.contains("Usage: cnfwdctl show routes [OPTIONS] [VRF] [PREFIX]"),
            "{h}"
        );
        let h = local_help(&w(&["trace"])).unwrap();
        assert!(h.contains("stop"), "{h}");
        let h = local_help(&[]).unwrap();
        assert!(h.contains("Usage: cnfwdctl [OPTIONS] [COMMAND]"), "{h}");
        assert!(local_help(&w(&["/routes"])).is_none());
        assert!(local_help(&w(&["routes"])).is_none());
    }

    #[test]
    fn config_apply_sends_the_file_text() {
        let p = std::env::temp_dir().join(format!("cnfwdctl-apply-{}.toml", std::process::id()));
        std::fs::write(&p, "[engine]\nburst_size = 32 # \"q\"\n").unwrap();
        let m = msg(&["config", "apply", p.to_str().unwrap_or_default()]);
        std::fs::remove_file(&p).unwrap();
        let m = m.unwrap();
        let (cmd, params) = m.split_once(',').unwrap();
        assert_eq!(cmd, "/config/apply");
        let v: Value = serde_json::from_str(params).unwrap();
        assert_eq!(v, json!({"toml": "[engine]\nburst_size = 32 # \"q\"\n"}));
        let e = msg(&["config", "apply", "/nonexistent/x.toml"]).unwrap_err();
        assert!(e.starts_with("/nonexistent/x.toml: "), "{e}");
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        let e = msg(&["route", "add", "blue", "10.0.0.0/8", "through", "x"]).unwrap_err();
        assert!(
            e.contains("expected `via <ip>` and/or `dev <network>`"),
            "{e}"
        );
        assert!(msg(&["route", "add", "blue", "10.0.0.0/8"]).is_err());
        assert!(msg(&["route", "add", "blue", "10.0.0.0/8", "via"]).is_err());
        assert!(msg(&["allow", "add", "c", "d", "http"]).is_err());
        let e = msg(&["raw", "ports"]).unwrap_err();
        assert!(e.contains("starts with '/'"), "{e}");
        assert!(msg(&["show", "nothing"]).is_err());
    }
}
