//! The pass over the cloud services network: its L3 network, the egress
//! allowlist compiled from its endpoint lists, and its settings.

use super::networks::Networks;
use super::{q, Errors};
use crate::egress::{parse_endpoint, EgressRule};
use crate::model::{CloudServicesNetwork, Config};
use crate::resolved::ResolvedCsn;

/// The CSN, when configured and valid.
pub(super) fn csn(errs: &mut Errors, config: &Config, nets: &Networks<'_>) -> Option<ResolvedCsn> {
    config
        .cloud_services_network
        .as_ref()
        .and_then(|c| resolve_csn(errs, c, nets))
}

fn resolve_csn(
    errs: &mut Errors,
    c: &CloudServicesNetwork,
    nets: &Networks<'_>,
) -> Option<ResolvedCsn> {
    let network = match nets.ids.get(c.network.as_str()) {
        Some(&id) if nets.list[id as usize].l3.is_some() => id,
        Some(_) => {
            errs.push(
                "cloud_services_network.network",
                q(&c.network),
                "the CSN must be an L3 network",
            );
            return None;
        }
        None => {
            errs.push(
                "cloud_services_network.network",
                q(&c.network),
                "no L3 network has this name",
            );
            return None;
        }
    };
    let mut allow = Vec::new();
    let lists = [
        (
            "default_egress_endpoints",
            &c.default_egress_endpoints,
            c.enable_default_egress_endpoints,
        ),
        (
            "additional_egress_endpoints",
            &c.additional_egress_endpoints,
            true,
        ),
    ];
    for (list_name, list, enabled) in lists {
        for (i, cat) in list.iter().enumerate() {
            for (j, e) in cat.endpoints.iter().enumerate() {
                match parse_endpoint(&e.domain_name, e.port) {
                    Ok((target, port)) if enabled => allow.push(EgressRule {
                        category: cat.category.clone(),
                        target,
                        port,
                    }),
                    Ok(_) => {}
                    Err(why) => errs.push(
                        format!("cloud_services_network.{list_name}[{i}].endpoints[{j}]"),
                        format!(
                            "{{ domain_name = {:?}, port = {:?} }}",
                            e.domain_name, e.port
                        ),
                        why,
                    ),
                }
            }
        }
    }
    if let Err(e) = c.settings.validate() {
        let field = crate::csn::CsnSettings::field_of(&e);
        let value = toml::Value::try_from(&c.settings)
            .ok()
            .and_then(|v| v.get(field).map(|v| v.to_string()))
            .unwrap_or_default();
        errs.push(
            format!("cloud_services_network.settings.{field}"),
            value,
            e.to_string(),
        );
        return None;
    }
    Some(ResolvedCsn {
        network,
        allow,
        settings: c.settings.clone(),
    })
}
