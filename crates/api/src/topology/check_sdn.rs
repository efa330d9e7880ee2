//! A switch's flows and OpenFlow endpoints: checked, and its flows made
//! into the dataplane's pipeline.

use super::error::{invalid, TopologyError};
use super::sdn::*;
use super::spec::SwitchSpec;
use crate::flowtext::{parse_flow, parse_group, parse_meter, PortNames};
use std::net::SocketAddr;
use vepa_dataplane::flow::{FlowFilter, Pipeline};

impl SwitchSpec {
    /// The switch's port names in dataplane order (OpenFlow port n is `[n-1]`).
    pub fn port_names(&self) -> Vec<String> {
        self.uplink
            .iter()
            .chain(&self.ports)
            .map(|p| p.name.clone())
            .collect()
    }

    /// The switch's groups and flows as a pipeline; the error names the
    /// entry (`flows[2]`) and the part of its text at fault.
    pub fn pipeline(&self, now_ms: u64) -> Result<Pipeline, TopologyError> {
        let at = format!("switch '{}'", self.name);
        let names = self.port_names();
        let ports = PortNames(&names);
        let mut p = Pipeline::default();
        for (i, text) in self.meters.iter().enumerate() {
            let m = parse_meter(text)
                .map_err(|e| invalid(&at, format!("meters[{i}]"), e.to_string()))?;
            p.add_meter(m, false, now_ms)
                .map_err(|e| invalid(&at, format!("meters[{i}]"), e.to_string()))?;
        }
        for (i, text) in self.groups.iter().enumerate() {
            let g = parse_group(text, ports)
                .map_err(|e| invalid(&at, format!("groups[{i}]"), e.to_string()))?;
            p.add_group(g, names.len())
                .map_err(|e| invalid(&at, format!("groups[{i}]"), e.to_string()))?;
        }
        for (i, text) in self.flows.iter().enumerate() {
            let f = parse_flow(text, ports)
                .map_err(|e| invalid(&at, format!("flows[{i}]"), e.to_string()))?;
            if !f.has_actions {
                return Err(invalid(
                    &at,
                    format!("flows[{i}]"),
                    "a flow needs actions= (actions=drop to drop)",
                ));
            }
            let strict = FlowFilter {
                table: Some(f.spec.table),
                matcher: f.spec.matcher.clone(),
                strict_priority: Some(f.spec.priority),
                ..FlowFilter::default()
            };
            if let Some(prev) = p.flows(&strict).first() {
                let before = self
                    .flows
                    .iter()
                    .position(|t| {
                        parse_flow(t, ports).is_ok_and(|q| {
                            q.spec.table == prev.table
                                && q.spec.priority == prev.priority
                                && q.spec.matcher == prev.matcher
                        })
                    })
                    .unwrap_or(0);
                return Err(invalid(
                    &at,
                    format!("flows[{i}]"),
                    format!("same table, priority and match as flows[{before}]"),
                ));
            }
            p.add(f.spec, names.len(), now_ms)
                .map_err(|e| invalid(&at, format!("flows[{i}]"), e.to_string()))?;
        }
        Ok(p)
    }

    /// Checks the OpenFlow endpoints: their syntax, and that a plain TCP
    /// listener is on loopback and asked for in so many words.
    pub(super) fn check_openflow(&self) -> Result<Option<SocketAddr>, TopologyError> {
        let at = format!("switch '{}'", self.name);
        let Some(of) = &self.openflow else {
            return Ok(None);
        };
        if let Some(c) = &of.controller {
            parse_controller(c).map_err(|e| invalid(&at, "openflow.controller", e))?;
        }
        let Some(l) = of.listen.as_deref() else {
            if of.allow_plain_tcp {
                return Err(invalid(
                    &at,
                    "openflow.allow_plain_tcp",
                    "set, but there is no ptcp: listen for it to allow",
                ));
            }
            return Ok(None);
        };
        let (transport, addr) = parse_listen(l).map_err(|e| invalid(&at, "openflow.listen", e))?;
        if transport == Transport::Tcp {
            if !addr.ip().is_loopback() {
                return Err(invalid(
                    &at,
                    "openflow.listen",
                    format!("'{l}': a plain TCP listener on {} would let anyone who reaches it steer the switch; use pssl: (TLS with client certificates) for remote controllers", addr.ip()),
                ));
            }
            if !of.allow_plain_tcp {
                return Err(invalid(
                    &at,
                    "openflow.listen",
                    format!("'{l}': plain TCP authenticates nobody (any local user could add flows, send frames out of any port and read every packet-in); use the switch's management socket (ovs-ofctl ... unix:/run/vepa/{}.mgmt) or pssl:, or set openflow.allow_plain_tcp = true to accept that", self.name),
                ));
            }
        } else if of.allow_plain_tcp {
            return Err(invalid(
                &at,
                "openflow.allow_plain_tcp",
                "set, but the listener is pssl: (TLS), not plain TCP",
            ));
        }
        Ok(Some(addr))
    }
}
