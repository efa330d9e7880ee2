//! The difference between two desired states, as a list of changes a
//! person can read (`vepa apply --dry-run`) and the daemon can act on.
//!
//! Ports are matched by switch and name. A change to a field that decides
//! how the port exists on the host (its type, interface, namespace,
//! addresses...) recreates the port's device; any other field changes
//! forwarding only and takes effect in place.

use crate::topology::{PortSpec, SwitchSpec, Topology};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Port fields that shape the device on the host.
pub const HOST_FIELDS: &[&str] = &[
    "type",
    "ifname",
    "netns",
    "peer_name",
    "peer",
    "mac",
    "address",
    "gateway",
    "mtu",
    "offload",
    "bond",
];

/// The fields that shape a VXLAN port's socket and endpoints, and a
/// fabric port's `relay` (the tunnel reflects, not the switch).
pub fn device_fields(p: &PortSpec) -> impl Iterator<Item = &'static str> {
    const TUNNEL: &[&str] = &[
        "vni",
        "local",
        "remote",
        "vlan_vni",
        "dstport",
        "fabric",
        "arp_suppress",
    ];
    let tunnel = if p.kind == crate::topology::PortKind::Vxlan {
        TUNNEL
    } else {
        &[]
    };
    let relay: &[&str] = if p.fabric { &["relay"] } else { &[] };
    HOST_FIELDS.iter().chain(tunnel).chain(relay).copied()
}

/// Whether changing `field` of `p` means making its device again.
pub fn remakes_device(p: &PortSpec, field: &str) -> bool {
    device_fields(p).any(|f| f == field)
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
    /// Changed in place; traffic that stays allowed keeps flowing.
    Update,
    /// The device is removed and made again.
    Recreate,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// The old value as JSON text (absent: unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Change {
    pub op: Op,
    /// `switch NAME`, `port SWITCH/PORT`, `fdb SWITCH MAC vlan VID`,
    /// `router NAME`, `router port ROUTER/PORT`, `route ROUTER PREFIX` or `acl NAME`.
    pub object: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.op {
            Op::Add => "+",
            Op::Remove => "-",
            Op::Update => "~",
            Op::Recreate => "!",
        };
        write!(f, "{sign} {}", self.object)?;
        if self.op == Op::Recreate {
            write!(f, " (device recreated)")?;
        }
        for (i, c) in self.fields.iter().enumerate() {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
            write!(
                f,
                "{} {}: {} -> {}",
                if i == 0 { ":" } else { ";" },
                c.field,
                show(&c.from),
                show(&c.to)
            )?;
        }
        Ok(())
    }
}

/// The changes that turn `from` into `to`, in a stable order: switches
/// removed, then changed or added, each with its ports.
pub fn diff(from: &Topology, to: &Topology) -> Vec<Change> {
    let mut out = Vec::new();
    let kept = |a: &Topology, b: &Topology| -> Vec<String> {
        a.switches
            .iter()
            .filter(|s| b.switch(&s.name).is_some())
            .map(|s| s.name.clone())
            .collect()
    };
    let (was, now) = (kept(from, to), kept(to, from));
    if was != now {
        out.push(change(
            Op::Update,
            "topology".into(),
            vec![FieldChange {
                field: "switch order".into(),
                from: Some(format!("{was:?}")),
                to: Some(format!("{now:?}")),
            }],
        ));
    }
    for s in &from.switches {
        if to.switch(&s.name).is_none() {
            for p in all_ports(s) {
                out.push(change(Op::Remove, port_object(s, p), Vec::new()));
            }
            out.push(change(Op::Remove, format!("switch {}", s.name), Vec::new()));
        }
    }
    for s in &to.switches {
        match from.switch(&s.name) {
            None => {
                out.push(change(Op::Add, format!("switch {}", s.name), Vec::new()));
                for p in all_ports(s) {
                    out.push(change(Op::Add, port_object(s, p), Vec::new()));
                }
                for e in &s.static_fdb {
                    out.push(change(Op::Add, fdb_object(s, e), Vec::new()));
                }
            }
            Some(old) => diff_switch(old, s, &mut out),
        }
    }
    diff_routers(from, to, &mut out);
    for a in &from.acls {
        if to.acl(&a.name).is_none() {
            out.push(change(Op::Remove, format!("acl {}", a.name), Vec::new()));
        }
    }
    for a in &to.acls {
        match from.acl(&a.name) {
            None => out.push(change(Op::Add, format!("acl {}", a.name), Vec::new())),
            Some(o) if o != a => out.push(change(
                Op::Update,
                format!("acl {}", a.name),
                field_changes(o, a, &["name"]),
            )),
            Some(_) => {}
        }
    }
    out
}

/// Routers removed, then added or changed: ports by name (a changed port
/// is updated in place), static routes by prefix.
fn diff_routers(from: &Topology, to: &Topology, out: &mut Vec<Change>) {
    use crate::topology::router::RouterSpec;
    let empty = |name: &str| RouterSpec::new(name);
    for r in &from.routers {
        if to.router(&r.name).is_none() {
            out.push(change(Op::Remove, format!("router {}", r.name), Vec::new()));
        }
    }
    for r in &to.routers {
        let old = match from.router(&r.name) {
            Some(o) => o.clone(),
            None => {
                out.push(change(Op::Add, format!("router {}", r.name), Vec::new()));
                empty(&r.name)
            }
        };
        for p in &old.ports {
            if !r.ports.iter().any(|q| q.name == p.name) {
                out.push(change(
                    Op::Remove,
                    format!("router port {}/{}", r.name, p.name),
                    Vec::new(),
                ));
            }
        }
        for p in &r.ports {
            let object = format!("router port {}/{}", r.name, p.name);
            match old.ports.iter().find(|q| q.name == p.name) {
                None => out.push(change(Op::Add, object, Vec::new())),
                Some(q) if q != p => {
                    out.push(change(Op::Update, object, field_changes(q, p, &["name"])))
                }
                Some(_) => {}
            }
        }
        for x in &old.routes {
            if !r.routes.iter().any(|y| y.prefix == x.prefix) {
                out.push(change(
                    Op::Remove,
                    format!("route {} {}", r.name, x.prefix),
                    Vec::new(),
                ));
            }
        }
        for x in &r.routes {
            let object = format!("route {} {}", r.name, x.prefix);
            match old.routes.iter().find(|y| y.prefix == x.prefix) {
                None => out.push(change(Op::Add, object, Vec::new())),
                Some(y) if y != x => {
                    out.push(change(Op::Update, object, field_changes(y, x, &["prefix"])))
                }
                Some(_) => {}
            }
        }
    }
}

fn change(op: Op, object: String, fields: Vec<FieldChange>) -> Change {
    Change { op, object, fields }
}

fn all_ports(s: &SwitchSpec) -> impl Iterator<Item = &PortSpec> {
    s.uplink.iter().chain(s.ports.iter())
}

fn port_object(s: &SwitchSpec, p: &PortSpec) -> String {
    format!("port {}/{}", s.name, p.name)
}

fn fdb_object(s: &SwitchSpec, e: &crate::topology::StaticFdbSpec) -> String {
    format!("fdb {} {} vlan {} on {}", s.name, e.mac, e.vlan, e.port)
}

fn json(v: &impl Serialize) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Field-by-field differences of two values that serialize as JSON objects.
fn field_changes(a: &impl Serialize, b: &impl Serialize, skip: &[&str]) -> Vec<FieldChange> {
    let (a, b) = (json(a), json(b));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()))
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            from: a.get(k).map(|v| v.to_string()),
            to: b.get(k).map(|v| v.to_string()),
        })
        .collect()
}

fn diff_switch(old: &SwitchSpec, new: &SwitchSpec, out: &mut Vec<Change>) {
    let mut fields = field_changes(
        old,
        new,
        &[
            "port",
            "uplink",
            "static_fdb",
            "name",
            "flows",
            "groups",
            "meters",
        ],
    );
    let same_entries = old.static_fdb.len() == new.static_fdb.len()
        && old.static_fdb.iter().all(|e| new.static_fdb.contains(e));
    if same_entries && old.static_fdb != new.static_fdb {
        fields.push(FieldChange {
            field: "static_fdb".into(),
            from: Some("(same entries".into()),
            to: Some("another order)".into()),
        });
    }
    let names = |s: &SwitchSpec| -> Vec<String> { all_ports(s).map(|p| p.name.clone()).collect() };
    let (was, now) = (names(old), names(new));
    let mut kept_was: Vec<&String> = was.iter().filter(|n| now.contains(n)).collect();
    let kept_now: Vec<&String> = now.iter().filter(|n| was.contains(n)).collect();
    if kept_was != kept_now {
        fields.push(FieldChange {
            field: "port order".into(),
            from: Some(format!("{kept_was:?}")),
            to: Some(format!("{kept_now:?}")),
        });
    }
    kept_was.clear();
    if !fields.is_empty() {
        out.push(change(Op::Update, format!("switch {}", new.name), fields));
    }
    let find = |s: &SwitchSpec, name: &str| -> Option<(bool, PortSpec)> {
        if let Some(u) = s.uplink.as_ref().filter(|u| u.name == name) {
            return Some((true, u.clone()));
        }
        s.ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| (false, p.clone()))
    };
    for p in all_ports(old) {
        if find(new, &p.name).is_none() {
            out.push(change(Op::Remove, port_object(old, p), Vec::new()));
        }
    }
    for p in all_ports(new) {
        let Some((was_uplink, before)) = find(old, &p.name) else {
            out.push(change(Op::Add, port_object(new, p), Vec::new()));
            continue;
        };
        let mut fields = field_changes(&before, p, &[]);
        let is_uplink = new.uplink.as_ref().is_some_and(|u| u.name == p.name);
        if was_uplink != is_uplink {
            let role = |up: bool| Some(if up { "\"uplink\"" } else { "\"downlink\"" }.to_string());
            fields.push(FieldChange {
                field: "role".into(),
                from: role(was_uplink),
                to: role(is_uplink),
            });
        }
        if fields.is_empty() {
            continue;
        }
        let op = if fields
            .iter()
            .any(|f| remakes_device(p, &f.field) || remakes_device(&before, &f.field))
        {
            Op::Recreate
        } else {
            Op::Update
        };
        out.push(change(op, port_object(new, p), fields));
    }
    for (kind, was, now) in [
        ("meter", &old.meters, &new.meters),
        ("group", &old.groups, &new.groups),
        ("flow", &old.flows, &new.flows),
    ] {
        for t in was.iter().filter(|t| !now.contains(t)) {
            out.push(change(
                Op::Remove,
                format!("{kind} {}: {t}", new.name),
                Vec::new(),
            ));
        }
        for t in now.iter().filter(|t| !was.contains(t)) {
            out.push(change(
                Op::Add,
                format!("{kind} {}: {t}", new.name),
                Vec::new(),
            ));
        }
        let same = was.len() == now.len() && was.iter().all(|t| now.contains(t));
        if same && was != now {
            out.push(change(
                Op::Update,
                format!("switch {}", new.name),
                vec![FieldChange {
                    field: format!("{kind}s"),
                    from: Some("(same entries".into()),
                    to: Some("another order)".into()),
                }],
            ));
        }
    }
    for e in &old.static_fdb {
        if !new.static_fdb.contains(e) {
            out.push(change(Op::Remove, fdb_object(old, e), Vec::new()));
        }
    }
    for e in &new.static_fdb {
        if !old.static_fdb.contains(e) {
            out.push(change(Op::Add, fdb_object(new, e), Vec::new()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(text: &str) -> Topology {
        Topology::parse("t", text).unwrap()
    }

    const BASE: &str = r#"
[[switch]]
name = "s1"
[[switch.port]]
name = "vm1"
type = "veth"
netns = "a"
[[switch.port]]
name = "vm2"
type = "veth"
"#;

    #[test]
    fn same_state_is_an_empty_plan() {
        assert!(diff(&topo(BASE), &topo(BASE)).is_empty());
    }

    #[test]
    fn forwarding_fields_update_and_host_fields_recreate() {
        let new = BASE
            .replace("netns = \"a\"", "netns = \"a\"\nmode = \"vepa\"")
            .replace("type = \"veth\"\n\"#", "");
        let mut t = topo(&new);
        t.switches[0].ports[1].address = vec!["10.0.0.2/24".into()];
        let plan = diff(&topo(BASE), &t);
        assert_eq!(plan.len(), 2, "{plan:?}");
        assert_eq!(plan[0].op, Op::Update);
        assert_eq!(
            plan[0].to_string(),
            "~ port s1/vm1: mode: (unset) -> \"vepa\""
        );
        assert_eq!(plan[1].op, Op::Recreate);
    }

    #[test]
    fn added_and_removed_things_are_listed() {
        let mut t = topo(BASE);
        t.switches[0].ports.remove(0);
        t.switches[0].mode = crate::topology::ModeName::Private;
        let mut s2 = t.switches[0].clone();
        s2.name = "s2".into();
        s2.ports[0].name = "vm3".into();
        t.switches.push(s2);
        let plan: Vec<String> = diff(&topo(BASE), &t)
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            plan,
            [
                "~ switch s1: mode: \"veb\" -> \"private\"",
                "- port s1/vm1",
                "+ switch s2",
                "+ port s2/vm3",
            ]
        );
    }

    #[test]
    fn reordering_switches_or_static_entries_is_a_change() {
        let mut t = topo(BASE);
        let mut s2 = t.switches[0].clone();
        s2.name = "s0".into();
        s2.ports.clear();
        t.switches.push(s2);
        let mut swapped = t.clone();
        swapped.switches.reverse();
        let plan = diff(&t, &swapped);
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(
            plan[0].to_string().starts_with("~ topology: switch order"),
            "{}",
            plan[0]
        );
    }
}
