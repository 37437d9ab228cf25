//! The running configuration: `/config` (JSON or pages of text),
//! `/config/apply` (replace it) and `/config/save` (write it to its file).

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use cnfwd_config::{PortBackend, Resolved};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{fail, resolve_config, save_with_backup, Command, Commands};
use crate::control::telemetry::{CommandError, Peer};
use crate::tables::Tables;

/// Bytes of configuration text per `/config` page when no `limit` is
/// given; escaped in JSON it stays well within `max_output_len`.
pub const DEFAULT_CONFIG_PAGE: usize = 256 * 1024;
/// The largest `/config` page `limit` (bytes of text).
pub const MAX_CONFIG_PAGE: usize = 512 * 1024;
/// The largest file `/config/apply,{"path"}` reads (64 MiB: a million
/// routes in `[[...static_routes]]` form).
pub const MAX_CONFIG_FILE: u64 = 64 << 20;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/config",
        "The running configuration (the file plus every change since). No params: the whole of it as JSON. {\"section\": KEY}: one top-level part (e.g. \"l3_isolation_domains\"). {\"format\": \"toml\"|\"json\", \"offset\": BYTES, \"limit\": BYTES (default 262144)}: the text, a page of whole lines at a time: {\"total_bytes\", \"offset\", \"next_offset\" (null on the last page), \"text\"}.",
        |c, p, _| c.config(p.parse_or_default()?),
    ),
    Command::write(
        "/config/apply",
        "Validate and apply a whole configuration, replacing the running one. Params: {\"toml\": TEXT} or {\"path\": ABSOLUTE_PATH} (read by cnfwd if your uid and groups may read it), \"keep_socket_routes\": true to keep routes added with /route/add (default: removed, and listed). Ports cannot change (restart for that). Reply: every route, neighbour and allowlist entry added, removed or changed (counts, first 100 listed).",
        |c, p, peer| c.apply(p.parse()?, peer),
    ),
    Command::write(
        "/config/save",
        "Write the running configuration into its file, edited in place (comments, order and layout kept; defaults left out), the previous version kept as FILE.bak (each written to a temporary file, fsync, rename, fsync of the directory); on an error the file is unchanged and the reply names the step and the OS error.",
        |c, _, _| c.save(),
    ),
];

/// The text form of `/config` pages.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum ConfigFormat {
    Json,
    Toml,
}

impl ConfigFormat {
    fn name(self) -> &'static str {
        match self {
            ConfigFormat::Json => "json",
            ConfigFormat::Toml => "toml",
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigParams {
    #[serde(default)]
    format: Option<ConfigFormat>,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyParams {
    #[serde(default)]
    toml: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    keep_socket_routes: bool,
}

impl Commands<'_> {
    /// `/config`: the whole configuration or one section as JSON, or a
    /// page of its text (see the command's help).
    fn config(&mut self, p: ConfigParams) -> Result<Value, CommandError> {
        let section = p.section.clone();
        let paged = p.format.is_some() || p.offset.is_some() || p.limit.is_some();
        if !paged {
            let all = serde_json::to_value(&self.state.config)
                .map_err(|e| fail(format!("cannot encode the configuration: {e}")))?;
            return match section {
                None => Ok(all),
                Some(key) => all.get(&key).cloned().ok_or_else(|| {
                    fail(format!(
                        "section {key:?}: not a part of the configuration; one of {}",
                        config_sections(&all)
                    ))
                }),
            };
        }
        let format = p.format.unwrap_or(ConfigFormat::Toml);
        let limit = p.limit.unwrap_or(DEFAULT_CONFIG_PAGE);
        if limit == 0 || limit > MAX_CONFIG_PAGE {
            return Err(fail(format!(
                "limit {limit}: must be in 1..={MAX_CONFIG_PAGE} (bytes)"
            )));
        }
        let text = self.config_text(format, section.as_deref())?;
        let offset = p.offset.unwrap_or(0);
        let (page, next) = text_page(&text, offset, limit).map_err(fail)?;
        Ok(json!({
            "format": format.name(),
            "section": section,
            "total_bytes": text.len(),
            "offset": offset,
            "next_offset": next,
            "text": page,
        }))
    }

    /// The running configuration (or a section of it) as text, kept until
    /// the next write command so that pages come from one version.
    fn config_text(
        &mut self,
        format: ConfigFormat,
        section: Option<&str>,
    ) -> Result<Arc<str>, CommandError> {
        if let Some((f, s, t)) = &self.state.config_text {
            if *f == format && s.as_deref() == section {
                return Ok(t.clone());
            }
        }
        let encode = |e: String| fail(format!("cannot encode the configuration: {e}"));
        let text = match format {
            ConfigFormat::Toml => {
                match cnfwd_config::edit::to_toml(&self.state.config, section)
                    .map_err(|e| fail(e.to_string()))?
                {
                    Some(t) => t,
                    None => {
                        let all = serde_json::to_value(&self.state.config)
                            .map_err(|e| encode(e.to_string()))?;
                        return Err(fail(format!(
                            "section {:?}: not a part of the configuration (or empty); one of {}",
                            section.unwrap_or_default(),
                            config_sections(&all)
                        )));
                    }
                }
            }
            ConfigFormat::Json => {
                let mut v =
                    serde_json::to_value(&self.state.config).map_err(|e| encode(e.to_string()))?;
                if let Some(key) = section {
                    let all = v.clone();
                    v = v.get_mut(key).map(Value::take).ok_or_else(|| {
                        fail(format!(
                            "section {key:?}: not a part of the configuration; one of {}",
                            config_sections(&all)
                        ))
                    })?;
                }
                let mut t = serde_json::to_string_pretty(&v).map_err(|e| encode(e.to_string()))?;
                t.push('\n');
                t
            }
        };
        let text: Arc<str> = Arc::from(text);
        self.state.config_text = Some((format, section.map(str::to_string), text.clone()));
        Ok(text)
    }

    /// `/config/apply`: the new configuration replaces the running one
    /// (as `frr-reload.py` makes the running configuration the file's):
    /// routes added through the socket are removed unless
    /// `keep_socket_routes` (then merged into the new configuration, still
    /// `origin: "socket"`; one whose VRF is gone or whose prefix the file
    /// routes itself is dropped and listed). The reply lists every change.
    fn apply(&mut self, p: ApplyParams, peer: &Peer) -> Result<Value, CommandError> {
        let (text, origin) = match (p.toml, p.path) {
            (Some(t), None) => (t, "<config/apply>".to_string()),
            (None, Some(path)) => {
                let t = crate::control::peer_read::read_for_peer(&path, peer, MAX_CONFIG_FILE)
                    .map_err(|e| fail(e.to_string()))?;
                (t, path.display().to_string())
            }
            (Some(_), Some(_)) => {
                return Err(fail(
                    "give either \"toml\" (the text) or \"path\" (a file cnfwd reads), not both",
                ))
            }
            (None, None) => {
                return Err(fail(
                    "missing \"toml\" (the text) or \"path\" (an absolute path cnfwd reads), e.g. /config/apply,{\"path\": \"/etc/cnfwd/site.toml\"}",
                ))
            }
        };
        let mut config = cnfwd_config::parse(&text, &origin).map_err(|e| fail(e.to_string()))?;
        drop(text);
        // Socket routes: carried over (keep) or listed as removed.
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut socket: Vec<&(String, IpNet)> = self.state.socket_routes.iter().collect();
        socket.sort();
        for (vrf, prefix) in socket {
            if !p.keep_socket_routes {
                dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "not in the applied configuration"}));
                continue;
            }
            let route = self
                .state
                .config
                .l3_isolation_domains
                .iter()
                .find(|d| &d.name == vrf)
                .and_then(|d| d.static_routes.iter().find(|r| r.prefix.trunc() == *prefix));
            let target = config
                .l3_isolation_domains
                .iter_mut()
                .find(|d| &d.name == vrf);
            match (route, target) {
                (Some(r), Some(d)) if !d.static_routes.iter().any(|x| x.prefix.trunc() == *prefix) => {
                    d.static_routes.push(r.clone());
                    kept.push((vrf.clone(), *prefix));
                }
                (_, None) => dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "the VRF is not in the applied configuration"})),
                _ => dropped.push(json!({"vrf": vrf, "prefix": prefix.to_string(), "why": "the applied configuration routes this prefix itself"})),
            }
        }
        let resolved = resolve_config(&config)?;
        let old = &self.state.resolved;
        let port_key = |r: &Resolved| -> Vec<(String, PortBackend)> {
            r.ports
                .iter()
                .map(|p| (p.name.clone(), p.backend.clone()))
                .collect()
        };
        if port_key(old) != port_key(&resolved) {
            return Err(fail(
                "ports: the new configuration changes the ports (names, backends or devices); ports are opened at start, so restart cnfwd for that",
            ));
        }
        if resolved.control != old.control || resolved.metrics_listen != old.metrics_listen {
            return Err(fail(
                "control/metrics: the socket and the metrics endpoint are set up at start; restart cnfwd to change them",
            ));
        }
        if resolved.engine != old.engine || resolved.af_packet != old.af_packet {
            return Err(fail(
                "engine/af_packet: workers, cores, idle policy and rings are set at start; restart cnfwd to change them",
            ));
        }
        let tables =
            Tables::build(&resolved, &self.state.device_macs).map_err(|e| fail(e.to_string()))?;
        let names =
            |r: &Resolved| -> Vec<String> { r.networks.iter().map(|n| n.name.clone()).collect() };
        let (old_nets, new_nets) = (names(old), names(&resolved));
        let added: Vec<&String> = new_nets.iter().filter(|n| !old_nets.contains(n)).collect();
        let removed: Vec<&String> = old_nets.iter().filter(|n| !new_nets.contains(n)).collect();
        let changed: Vec<&String> = resolved
            .networks
            .iter()
            .filter(|n| old.networks.iter().any(|o| o.name == n.name && o != *n))
            .map(|n| &n.name)
            .collect();
        let routes =
            |t: &Tables| -> usize { t.vrfs.iter().map(|v| v.fib4.len() + v.fib6.len()).sum() };
        let current = self.snapshots.current();
        let mut summary = json!({
            "networks_added": added,
            "networks_removed": removed,
            "networks_changed": changed,
            "vrfs": resolved.vrfs.len(),
            "routes_before": routes(&current),
            "routes_after": routes(&tables),
            "network_counters_restarted": old_nets != new_nets,
        });
        let changes = crate::control::changes::compare(
            &current,
            &tables,
            &self.state.config,
            &config,
            &self.state.socket_routes,
        );
        drop(current);
        if let (Value::Object(m), Value::Object(c)) = (&mut summary, changes) {
            m.extend(c);
            m.insert(
                "socket_routes".into(),
                json!({
                    "policy": if p.keep_socket_routes { "kept" } else { "removed" },
                    "kept": kept.len(),
                    "removed": dropped.len(),
                    "removed_list": dropped,
                }),
            );
        }
        let generation = self.snapshots.publish(tables);
        self.state.config = config;
        self.state.resolved = resolved;
        self.state.socket_routes = kept.into_iter().collect();
        summary["snapshot"] = json!(generation);
        Ok(summary)
    }

    /// `/config/save`: the file edited in place ([`cnfwd_config::edit`]),
    /// the previous version kept as `FILE.bak`; nothing written when the
    /// file already says the running configuration. Socket routes are
    /// then part of the file (`origin: "config"`).
    fn save(&mut self) -> Result<Value, CommandError> {
        let path = self
            .state
            .config_path
            .clone()
            .ok_or_else(|| fail("this run has no configuration file to save to"))?;
        let shown = path.display().to_string();
        let old = match fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(fail(format!(
                    "{shown}: not saved: reading the current file: {e}; the file is unchanged"
                )))
            }
        };
        let edited = cnfwd_config::edit::edit_in_place(old.as_deref(), &self.state.config)
            .map_err(|e| fail(e.to_string()))?;
        let (mode, why) = match &edited.mode {
            cnfwd_config::edit::SaveMode::Edited => ("edited", None),
            cnfwd_config::edit::SaveMode::Rewritten(why) => ("rewritten", Some(why.clone())),
        };
        let unchanged = old.as_deref() == Some(edited.text.as_str());
        let backup = if unchanged {
            None
        } else {
            save_with_backup(
                &path,
                old.as_deref().map(str::as_bytes),
                edited.text.as_bytes(),
            )
            .map_err(|e| fail(e.to_string()))?
        };
        self.state.socket_routes.clear();
        Ok(json!({
            "saved": shown,
            "bytes": edited.text.len(),
            "unchanged": unchanged,
            "mode": mode,
            "rewritten_because": why,
            "backup": backup.map(|b| b.display().to_string()),
        }))
    }
}

/// The top-level keys of the configuration, for error messages.
fn config_sections(all: &Value) -> String {
    all.as_object()
        .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// The page of `text` that starts at byte `offset` and holds whole lines
/// of at most `limit` bytes (a single longer line is cut at a character
/// boundary), and where the next page starts (`None`: this is the last).
fn text_page(text: &str, offset: usize, limit: usize) -> Result<(&str, Option<usize>), String> {
    if offset > text.len() || !text.is_char_boundary(offset) {
        return Err(format!(
            "offset {offset}: not the start of a page (the text has {} bytes; use the next_offset of the previous page)",
            text.len()
        ));
    }
    let rest = &text[offset..];
    if rest.len() <= limit {
        return Ok((rest, None));
    }
    // Bytes: `limit` may fall inside a character.
    let mut end = match rest.as_bytes()[..limit].iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => limit,
    };
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    if end == 0 {
        // A limit smaller than one character: take that character.
        end = rest.chars().next().map_or(0, char::len_utf8);
    }
    Ok((&rest[..end], Some(offset + end)))
}

#[cfg(test)]
mod tests {
    use super::text_page;

    #[test]
    fn text_pages_are_whole_lines_and_join_to_the_text() {
        let text = "a = 1\nbb = \"é\"\n\nccc = 3\n";
        for limit in 1..=text.len() + 1 {
            let (mut offset, mut joined) = (Some(0), String::new());
            while let Some(o) = offset {
                let (page, next) = text_page(text, o, limit).unwrap();
                assert!(
                    !page.is_empty() && page.len() <= limit.max(2),
                    "{limit} {o}"
                );
                if next.is_some() && page.len() < limit && page.contains('\n') {
                    assert!(page.ends_with('\n'), "{page:?}");
                }
                joined.push_str(page);
                offset = next;
            }
            assert_eq!(joined, text, "limit {limit}");
        }
        assert!(text_page(text, 13, 5)
            .unwrap_err()
            .contains("not the start of a page"));
        assert!(text_page(text, 99, 5).is_err());
        assert_eq!(text_page(text, text.len(), 5).unwrap(), ("", None));
    }
}
