//! The cloud services network: its flows, learned addresses and compiled
//! allowlist (`/csn/*`), and allowlist edits (`/allowlist/add|del`).

use cnfwd_config::model::{EgressEndpoint, EgressEndpointCategory};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{fail, net_name, resolve_config, Command, Commands};
use crate::control::telemetry::CommandError;
use crate::csn::CsnDump;

/// This area's commands, each with its handler.
pub(super) const COMMANDS: &[Command] = &[
    Command::read(
        "/csn/flows",
        "CSN flows per worker: count, capacity, memory and a bounded list. Params (optional): {\"limit\": N} (default 100, at most 10000).",
        |c, p, _| c.csn_flows(p.parse_or_default()?),
    ),
    Command::read(
        "/csn/learned",
        "Addresses learned from DNS answers to allowlisted names, with the time left. Params (optional): {\"limit\": N}.",
        |c, p, _| c.csn_learned(p.parse_or_default()?),
    ),
    Command::read(
        "/csn/allowlist",
        "The compiled CSN allowlist: every rule with the flows it admitted (summed over workers).",
        |c, _, _| c.csn_allowlist(),
    ),
    Command::write(
        "/allowlist/add",
        "Add a CSN egress endpoint. Params: {\"category\": NAME, \"domain_name\": NAME|URL|CIDR, \"port\": N (optional)}.",
        |c, p, _| c.allow_change(p.parse()?, true),
    ),
    Command::write(
        "/allowlist/del",
        "Remove a CSN egress endpoint. Params: as /allowlist/add.",
        |c, p, _| c.allow_change(p.parse()?, false),
    ),
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitParams {
    #[serde(default)]
    limit: Option<usize>,
}

/// Most flows or learned addresses one `/csn/*` reply lists per worker.
pub const MAX_CSN_LISTED: usize = 10_000;

/// How long a `/csn/*` command waits for the workers' answers.
const CSN_DUMP_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowParams {
    category: String,
    domain_name: String,
    #[serde(default)]
    port: Option<u32>,
}

impl Commands<'_> {
    fn allow_change(&mut self, p: AllowParams, add: bool) -> Result<Value, CommandError> {
        let mut config = self.state.config.clone();
        let Some(csn) = config.cloud_services_network.as_mut() else {
            return Err(fail("this configuration has no cloud_services_network"));
        };
        let endpoint = EgressEndpoint {
            domain_name: p.domain_name.clone(),
            port: p.port,
        };
        let cats = &mut csn.additional_egress_endpoints;
        if add {
            match cats.iter_mut().find(|c| c.category == p.category) {
                Some(c) if c.endpoints.contains(&endpoint) => {
                    return Err(fail(format!(
                        "domain_name {:?}: already allowed in category {:?}",
                        p.domain_name, p.category
                    )))
                }
                Some(c) => c.endpoints.push(endpoint),
                None => cats.push(EgressEndpointCategory {
                    category: p.category.clone(),
                    endpoints: vec![endpoint],
                }),
            }
        } else {
            let c = cats
                .iter_mut()
                .find(|c| c.category == p.category)
                .ok_or_else(|| fail(format!("category {:?}: no such category", p.category)))?;
            let before = c.endpoints.len();
            c.endpoints.retain(|e| e != &endpoint);
            if c.endpoints.len() == before {
                return Err(fail(format!(
                    "domain_name {:?}: not in category {:?}",
                    p.domain_name, p.category
                )));
            }
            cats.retain(|c| !c.endpoints.is_empty());
        }
        // Validated as a whole, like a file: the endpoint's syntax included.
        let resolved = resolve_config(&config)?;
        let rules = resolved.csn.as_ref().map_or(&[][..], |c| &c.allow[..]);
        // Takes effect: a snapshot with the recompiled allowlist.
        let next = self
            .snapshots
            .current()
            .with_csn_rules(rules)
            .map_err(|e| fail(e.to_string()))?;
        let generation = self.snapshots.publish(next);
        let rules = rules.len();
        self.state.config = config;
        self.state.resolved = resolved;
        Ok(json!({
            if add { "added" } else { "removed" }: p.domain_name,
            "category": p.category,
            "rules": rules,
            "snapshot": generation,
        }))
    }

    fn csn_dumps(&self, limit: Option<usize>) -> Result<Vec<CsnDump>, CommandError> {
        if self.snapshots.current().csn.is_none() {
            return Err(fail("this configuration has no cloud_services_network"));
        }
        let limit = limit.unwrap_or(100).min(MAX_CSN_LISTED);
        Ok(self.engine.csn().dumps(limit, CSN_DUMP_WAIT))
    }

    fn csn_flows(&self, p: LimitParams) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(p.limit)?;
        let t = self.snapshots.current();
        let allow = t.csn.as_ref().map(|c| &c.allowlist);
        let workers: Vec<Value> = dumps
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({
                    "worker": i,
                    "flows": d.flow_count,
                    "capacity": d.flow_capacity,
                    "memory_bytes": d.flow_memory,
                    "list": d.flows.iter().map(|(k, state, rule)| json!({
                        "proto": k.proto,
                        "src": k.src_addr().to_string(),
                        "sport": k.sport,
                        "dst": k.dst_addr().to_string(),
                        "dport": k.dport,
                        "state": state,
                        "rule": allow.map(|a| a.describe(*rule)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let total: usize = dumps.iter().map(|d| d.flow_count).sum();
        Ok(json!({"count": total, "workers": workers}))
    }

    fn csn_learned(&self, p: LimitParams) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(p.limit)?;
        // Every worker holds the same grants; list the first worker's.
        let d = dumps.first().cloned().unwrap_or_default();
        Ok(json!({
            "count": d.learned_count,
            "list": d.learned.iter().map(|(addr, name, left, rules)| json!({
                "address": addr.to_string(),
                "name": name,
                "seconds_left": (*left as f64 / 1e9 * 10.0).round() / 10.0,
                "rules": rules,
            })).collect::<Vec<_>>(),
        }))
    }

    fn csn_allowlist(&self) -> Result<Value, CommandError> {
        let dumps = self.csn_dumps(Some(0))?;
        let t = self.snapshots.current();
        let Some(c) = t.csn.as_ref() else {
            return Err(fail("this configuration has no cloud_services_network"));
        };
        let hits = |r: usize| -> u64 {
            dumps
                .iter()
                .filter(|d| d.rules == c.allowlist.len())
                .map(|d| d.hits.get(r).copied().unwrap_or(0))
                .sum()
        };
        Ok(json!({
            "network": net_name(&t, c.network),
            "rules": (0..c.allowlist.len()).map(|r| json!({
                "id": r,
                "rule": c.allowlist.describe(r as u32),
                "flows_admitted": hits(r),
            })).collect::<Vec<_>>(),
        }))
    }
}
