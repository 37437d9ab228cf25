//! Writing a configuration back into the file it came from without
//! rewriting that file (`/config/save`, like `vtysh write` keeping what
//! the operator wrote).
//!
//! [`edit_in_place`] parses the file with `toml_edit` and changes only what
//! differs between the configuration the file describes and the running
//! one, so that:
//!
//! - comments, blank lines, key order, quoting and the inline or
//!   `[[table]]` form of every part that did not change stay byte for byte;
//! - a key the file leaves out (a default) is written only when the
//!   running value differs from what the file means by leaving it out;
//! - elements of arrays (ports, networks, VRFs, static routes, neighbours,
//!   endpoints) are matched by their identity (`name`, `prefix`, `ip`,
//!   `category`, `domain_name` and `port`, `mac`), not by their index:
//!   a removed route takes its own lines (and comment) with it, an added
//!   one is appended after the last element of its array, in the array's
//!   form.
//!
//! The result is checked: it must parse back to exactly the running
//! configuration. When it does not (elements reordered, a file that no
//! longer parses), the function falls back to a plain rewrite and says
//! why ([`SaveMode::Rewritten`]); it never returns text that means
//! something else.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, TableLike, Value};

use crate::model::Config;

/// How [`edit_in_place`] produced its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveMode {
    /// The file was edited: everything unchanged kept as written.
    Edited,
    /// The file was written anew from the configuration (comments and
    /// layout lost), for the reason given.
    Rewritten(String),
}

/// The text to save and how it was made.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The new file content; parses to the running configuration.
    pub text: String,
    /// Edited in place, or rewritten (and why).
    pub mode: SaveMode,
}

/// The running configuration could not be encoded as TOML at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the configuration as TOML: {0}")]
pub struct EncodeError(String);

/// Keys that identify an element of an array of tables, tried in order
/// (`domain_name` goes with `port`).
const IDENTITY_KEYS: &[&str] = &["name", "prefix", "ip", "category", "domain_name", "mac"];

/// The text of `file_text` (the file as it is now, `None` when there is
/// none) changed so that it describes `running`; see the module doc.
pub fn edit_in_place(file_text: Option<&str>, running: &Config) -> Result<Edited, EncodeError> {
    let plain = toml::to_string(running).map_err(|e| EncodeError(e.to_string()))?;
    let rewritten = |why: String| Edited {
        text: plain.clone(),
        mode: SaveMode::Rewritten(why),
    };
    let Some(file_text) = file_text else {
        return Ok(rewritten("there was no file".into()));
    };
    let new_full: DocumentMut = match plain.parse() {
        Ok(d) => d,
        Err(e) => return Err(EncodeError(e.to_string())),
    };
    let mut doc: DocumentMut = match file_text.parse() {
        Ok(d) => d,
        Err(e) => return Ok(rewritten(format!("the file is not valid TOML now ({e})"))),
    };
    let old_cfg = match crate::parse(file_text, "<file>") {
        Ok(c) => c,
        Err(e) => {
            return Ok(rewritten(format!(
                "the file is not a configuration now ({e})"
            )))
        }
    };
    if &old_cfg == running {
        return Ok(Edited {
            text: file_text.to_string(),
            mode: SaveMode::Edited,
        });
    }
    let old_full: DocumentMut = toml::to_string(&old_cfg)
        .map_err(|e| EncodeError(e.to_string()))?
        .parse()
        .map_err(|e: toml_edit::TomlError| EncodeError(e.to_string()))?;
    merge_tables(
        doc.as_table_mut(),
        Some(old_full.as_table() as &dyn TableLike),
        new_full.as_table(),
    );
    let text = doc.to_string();
    match crate::parse(&text, "<edited>") {
        Ok(c) if &c == running => Ok(Edited {
            text,
            mode: SaveMode::Edited,
        }),
        Ok(_) => Ok(rewritten(
            "the edited file would not say the same (elements reordered)".into(),
        )),
        Err(e) => Ok(rewritten(format!("the edited file would not parse ({e})"))),
    }
}

/// `config` as TOML (fields in the model's order, every value written),
/// or only its top-level part `section` (`None` when it has no such part
/// or the part is empty).
pub fn to_toml(config: &Config, section: Option<&str>) -> Result<Option<String>, EncodeError> {
    let text = toml::to_string(config).map_err(|e| EncodeError(e.to_string()))?;
    let Some(key) = section else {
        return Ok(Some(text));
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EncodeError(e.to_string()))?;
    let Some(item) = doc.remove(key) else {
        return Ok(None);
    };
    let mut only = DocumentMut::new();
    only.insert(key, item);
    Ok(Some(only.to_string()))
}

/// Whether two items say the same (values compared, not their text:
/// `'a'` and `"a"`, a table and an inline table, an array of tables and
/// an array of inline tables with the same content are the same).
fn same(a: &Item, b: &Item) -> bool {
    match (a, b) {
        (Item::None, Item::None) => true,
        (Item::Value(x), Item::Value(y)) => same_value(x, y),
        (Item::Table(x), Item::Table(y)) => same_tables(x, y),
        (Item::Table(x), Item::Value(Value::InlineTable(y)))
        | (Item::Value(Value::InlineTable(y)), Item::Table(x)) => same_tables(x, y),
        (Item::ArrayOfTables(x), Item::ArrayOfTables(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same_tables(p, q))
        }
        (Item::ArrayOfTables(x), Item::Value(Value::Array(y)))
        | (Item::Value(Value::Array(y)), Item::ArrayOfTables(x)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| q.as_inline_table().is_some_and(|q| same_tables(p, q)))
        }
        _ => false,
    }
}

fn same_tables(x: &dyn TableLike, y: &dyn TableLike) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
}

fn same_value(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::String(a), Value::String(b)) => a.value() == b.value(),
        (Value::Integer(a), Value::Integer(b)) => a.value() == b.value(),
        (Value::Float(a), Value::Float(b)) => a.value().to_bits() == b.value().to_bits(),
        (Value::Boolean(a), Value::Boolean(b)) => a.value() == b.value(),
        (Value::Datetime(a), Value::Datetime(b)) => a.value() == b.value(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(p, q)| same_value(p, q))
        }
        (Value::InlineTable(a), Value::InlineTable(b)) => same_tables(a, b),
        _ => false,
    }
}

/// A scalar's text without its surroundings (for identities).
fn canon(item: &Item) -> String {
    match item {
        Item::Value(v) => {
            let mut v = v.clone();
            v.decor_mut().clear();
            v.to_string()
        }
        other => {
            let mut c = other.clone();
            clear_positions(&mut c);
            let mut d = DocumentMut::new();
            d.insert("x", c);
            d.to_string()
        }
    }
}

/// Tables copied from another document carry that document's positions;
/// without any they are placed after the table before them.
fn clear_positions(item: &mut Item) {
    match item {
        Item::Table(t) => {
            t.set_position(None);
            for (_, v) in t.iter_mut() {
                clear_positions(v);
            }
        }
        Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                t.set_position(None);
                for (_, v) in t.iter_mut() {
                    clear_positions(v);
                }
            }
        }
        _ => {}
    }
}

/// `doc` (as written) becomes `new`; `old` is what `doc` meant, fully
/// spelled out (defaults included).
fn merge_tables(doc: &mut dyn TableLike, old: Option<&dyn TableLike>, new: &dyn TableLike) {
    let gone: Vec<String> = doc
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k) && old.is_none_or(|o| o.contains_key(k)))
        .collect();
    for k in gone {
        doc.remove(&k);
    }
    for (key, n) in new.iter() {
        let o = old.and_then(|o| o.get(key));
        if o.is_some_and(|o| same(o, n)) {
            // Unchanged in meaning: left as written (or left out).
            continue;
        }
        match doc.get_mut(key) {
            Some(d) => merge_item(d, o, n),
            None => {
                let mut item = n.clone();
                clear_positions(&mut item);
                doc.insert(key, item);
            }
        }
    }
}

fn merge_item(d: &mut Item, o: Option<&Item>, n: &Item) {
    if let (Some(dt), Some(nt)) = (d.as_table_like_mut(), n.as_table_like()) {
        merge_tables(dt, o.and_then(Item::as_table_like), nt);
        return;
    }
    if let Some(new_elems) = table_elements(n) {
        if d.is_array_of_tables()
            || d.as_array()
                .is_some_and(|a| a.iter().all(|v| v.is_inline_table()))
        {
            let old_elems = o.and_then(table_elements).unwrap_or_default();
            merge_array(d, &old_elems, &new_elems);
            return;
        }
    }
    // A scalar, an array of scalars or a change of form: replaced, keeping
    // the value's surrounding whitespace and trailing comment.
    match (d.as_value_mut(), n.as_value()) {
        (Some(dv), Some(nv)) => {
            let decor = dv.decor().clone();
            *dv = nv.clone();
            *dv.decor_mut() = decor;
        }
        _ => {
            let was_value = d.is_value();
            let mut item = n.clone();
            clear_positions(&mut item);
            if was_value {
                // Inside an inline table or array: stays inline.
                item.make_value();
            }
            *d = item;
        }
    }
}

/// The elements of an array of tables or of an array of inline tables, as
/// items; `None` for anything else (an empty array counts as tables).
fn table_elements(item: &Item) -> Option<Vec<Item>> {
    match item {
        Item::ArrayOfTables(a) => Some(a.iter().map(|t| Item::Table(t.clone())).collect()),
        Item::Value(Value::Array(a)) if a.iter().all(Value::is_inline_table) => {
            Some(a.iter().map(|v| Item::Value(v.clone())).collect())
        }
        _ => None,
    }
}

/// What identifies an element: the first identity key it has (with `port`
/// for a `domain_name`).
fn identity(item: &Item) -> Option<String> {
    let t = item.as_table_like()?;
    let key = IDENTITY_KEYS.iter().find(|k| t.contains_key(k))?;
    let mut id = format!("{key}={}", scalar(t.get(key)?));
    if *key == "domain_name" {
        id.push_str(&format!(
            " port={}",
            t.get("port").map(scalar).unwrap_or_default()
        ));
    }
    Some(id)
}

/// A scalar's value whatever its quoting (`'red'` and `"red"` alike).
fn scalar(item: &Item) -> String {
    match item.as_str() {
        Some(s) => s.to_string(),
        None => canon(item),
    }
}

/// `d`'s elements become `new`'s: matched by identity (else by index), the
/// matched ones merged, the others removed or appended.
fn merge_array(d: &mut Item, old: &[Item], new: &[Item]) {
    let doc_elems = table_elements(d).unwrap_or_default();
    let key = |items: &[Item], i: usize| identity(&items[i]).unwrap_or_else(|| format!("#{i}"));
    let mut unused: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for i in (0..doc_elems.len()).rev() {
        unused.entry(key(&doc_elems, i)).or_default().push(i);
    }
    let mut old_by_id: std::collections::HashMap<String, usize> = Default::default();
    for i in 0..old.len() {
        old_by_id.entry(key(old, i)).or_insert(i);
    }
    // Each result element: an index into the file's elements (merged) or
    // a new element.
    let mut result: Vec<(Item, bool)> = Vec::with_capacity(new.len());
    let mut taken = doc_elems;
    for (j, n) in new.iter().enumerate() {
        let id = key(new, j);
        let doc_i = unused.get_mut(&id).and_then(Vec::pop);
        match doc_i {
            Some(i) => {
                let mut e = std::mem::replace(&mut taken[i], Item::None);
                let o = old_by_id.get(&id).map(|&k| &old[k]);
                if !o.is_some_and(|o| same(o, n)) {
                    merge_item(&mut e, o, n);
                }
                result.push((e, false));
            }
            None => {
                let mut e = n.clone();
                clear_positions(&mut e);
                result.push((e, true));
            }
        }
    }
    match d {
        Item::ArrayOfTables(_) => {
            let mut a = ArrayOfTables::new();
            for (e, _) in result {
                match e {
                    Item::Table(t) => a.push(t),
                    Item::Value(Value::InlineTable(t)) => a.push(t.into_table()),
                    _ => {}
                }
            }
            *d = Item::ArrayOfTables(a);
        }
        Item::Value(Value::Array(arr)) => {
            let last_decor = arr.iter().last().map(|v| v.decor().clone());
            let mut out = Array::new();
            *out.decor_mut() = arr.decor().clone();
            let old_trailing = arr.trailing().as_str().unwrap_or("").to_string();
            out.set_trailing(old_trailing.clone());
            out.set_trailing_comma(arr.trailing_comma());
            // Elements appended after the last one kept: the first takes
            // over what followed the old last element (its comment), the
            // array then ends as it did (a newline, or nothing).
            let last_kept = result.iter().rposition(|(_, fresh)| !fresh);
            for (i, (e, fresh)) in result.into_iter().enumerate() {
                let mut v = match e {
                    Item::Value(v) => v,
                    Item::Table(t) => Value::InlineTable(t.into_inline_table()),
                    _ => continue,
                };
                if fresh {
                    match &last_decor {
                        Some(dec) => {
                            *v.decor_mut() = dec.clone();
                            let appended_first = last_kept.is_some_and(|k| i == k + 1);
                            if appended_first && !old_trailing.trim().is_empty() {
                                let prefix = dec.prefix().and_then(|p| p.as_str()).unwrap_or(" ");
                                let indent = prefix.rsplit('\n').next().unwrap_or("");
                                let kept = old_trailing.strip_suffix('\n').unwrap_or(&old_trailing);
                                v.decor_mut().set_prefix(format!("{kept}\n{indent}"));
                                out.set_trailing(if old_trailing.ends_with('\n') {
                                    "\n"
                                } else {
                                    ""
                                });
                            }
                        }
                        None => v.decor_mut().clear(),
                    }
                }
                out.push_formatted(v);
            }
            if out.is_empty() {
                out.set_trailing("");
                out.set_trailing_comma(false);
            } else if last_decor.is_none() {
                out.fmt();
            }
            *arr = out;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# Site red: routes to the core.
[engine]
burst_size = 32   # the default, written on purpose

[[l3_isolation_domains]]
name = "red"   # tenant red

# Default route: the core router.
[[l3_isolation_domains.static_routes]]
prefix = "0.0.0.0/0"
next_hop = "10.1.0.254"

# Old lab network, going away.
[[l3_isolation_domains.static_routes]]
prefix = "198.51.100.0/24"
next_hop = "10.1.0.254"

[[l3_networks]]
name = "red-app"
vlan = 100
l3_isolation_domain = "red"
ip_allocation_type = "IPV4"
ipv4_connected_prefix = "10.1.0.0/24"
neighbors = [
  { ip = "10.1.0.254", mac = "02:00:00:00:02:54" },  # core
]

[[ports]]
name = "p"
backend = "pcap"
mac = "02:00:00:00:00:01"
mode = "access"
networks = ["red-app"]
"#;

    fn with(f: impl FnOnce(&mut Config)) -> Config {
        let mut c = crate::parse(FILE, "<t>").unwrap();
        f(&mut c);
        c
    }

    #[test]
    fn an_unchanged_configuration_leaves_the_file_byte_for_byte() {
        let c = with(|_| {});
        let e = edit_in_place(Some(FILE), &c).unwrap();
        assert_eq!(e.mode, SaveMode::Edited);
        assert_eq!(e.text, FILE);
    }

    #[test]
    fn a_route_removed_and_one_added_touch_only_their_lines() {
        let c = with(|c| {
            let r = &mut c.l3_isolation_domains[0].static_routes;
            r.retain(|r| r.prefix.to_string() != "198.51.100.0/24");
            r.push(crate::model::StaticRoute {
                prefix: "203.0.113.0/24".parse().unwrap(),
                next_hop: None,
                network: Some("red-app".into()),
            });
            c.l3_networks[0].neighbors.push(crate::model::Neighbor {
                ip: "10.1.0.9".parse().unwrap(),
                mac: "02:00:00:00:00:09".parse().unwrap(),
            });
        });
        let e = edit_in_place(Some(FILE), &c).unwrap();
        assert_eq!(e.mode, SaveMode::Edited, "{}", e.text);
        let t = &e.text;
        assert!(t.starts_with("# Site red: routes to the core.\n[engine]\nburst_size = 32   # the default, written on purpose\n"), "{t}");
        assert!(
            t.contains("name = \"red\"   # tenant red\n\n# Default route: the core router.\n"),
            "{t}"
        );
        assert!(!t.contains("198.51.100.0"), "{t}");
        assert!(!t.contains("Old lab network"), "{t}");
        assert!(
            t.contains("prefix = \"203.0.113.0/24\"\nnetwork = \"red-app\""),
            "{t}"
        );
        assert!(
            t.contains("  { ip = \"10.1.0.254\", mac = \"02:00:00:00:02:54\" },  # core\n"),
            "{t}"
        );
        assert!(
            t.contains("{ ip = \"10.1.0.9\", mac = \"02:00:00:00:00:09\" }"),
            "{t}"
        );
        // Defaults the file leaves out stay out.
        for default in ["mtu", "source_check", "idle", "[control]", "block_size"] {
            assert!(!t.contains(default), "{default} written out:\n{t}");
        }
        // The new route sits after the VRF's last route, before the networks.
        let (route, net) = (
            t.find("203.0.113.0/24").unwrap(),
            t.find("[[l3_networks]]").unwrap(),
        );
        assert!(route < net, "{t}");
        assert_eq!(crate::parse(t, "<t>").unwrap(), c);
    }

    #[test]
    fn a_changed_value_keeps_its_comment_and_a_changed_default_is_written() {
        let c = with(|c| {
            c.engine.burst_size = 64;
            c.l3_networks[0].mtu = 9000;
        });
        let e = edit_in_place(Some(FILE), &c).unwrap();
        assert_eq!(e.mode, SaveMode::Edited);
        assert!(
            e.text
                .contains("burst_size = 64   # the default, written on purpose\n"),
            "{}",
            e.text
        );
        assert!(e.text.contains("mtu = 9000"), "{}", e.text);
        assert_eq!(crate::parse(&e.text, "<t>").unwrap(), c);
    }

    #[test]
    fn a_file_that_no_longer_parses_is_rewritten_and_says_why() {
        let c = with(|_| {});
        let e = edit_in_place(Some("[engine\n"), &c).unwrap();
        let SaveMode::Rewritten(why) = &e.mode else {
            panic!("{:?}", e.mode)
        };
        assert!(why.contains("not valid TOML"), "{why}");
        assert_eq!(crate::parse(&e.text, "<t>").unwrap(), c);
        let e = edit_in_place(None, &c).unwrap();
        assert!(matches!(e.mode, SaveMode::Rewritten(_)));
    }
}
