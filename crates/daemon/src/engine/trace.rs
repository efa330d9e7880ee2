//! `vepa trace`: a frame run through a shadow of the running datapath
//! (`vepa_dataplane::trace`), with the flows that matched written in
//! `ovs-ofctl` syntax against their switch's port names.

use super::*;
use vepa_api::flowtext::frame_of_flow;
use vepa_api::wire::{TraceHop, TraceOutput, TraceRequest, TraceResult, TraceStep};
use vepa_dataplane::trace::{describe_frame, HopKind, Trace};
use vepa_dataplane::Parsed;

/// The largest frame a trace takes: a GSO super-frame's size.
const MAX_FRAME: usize = 65_535;

fn bad(field: &str, problem: impl Into<String>) -> ChangeError {
    ChangeError::Invalid(TopologyError::Invalid {
        at: "trace".into(),
        field: field.into(),
        problem: problem.into(),
    })
}

/// The frame a request describes.
pub fn frame_of(req: &TraceRequest) -> Result<Vec<u8>, ChangeError> {
    let frame = match (&req.flow, &req.frame) {
        (Some(flow), None) => {
            frame_of_flow(flow).map_err(|e| bad("flow", format!("{}: {}", e.part, e.problem)))?
        }
        (None, Some(hex)) => {
            let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
            if !hex.len().is_multiple_of(2) || hex.len() > 2 * MAX_FRAME {
                return Err(bad(
                    "frame",
                    format!("expected an even number of hex digits, at most {MAX_FRAME} bytes"),
                ));
            }
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| bad("frame", "expected hex digits"))?
        }
        _ => return Err(bad("flow", "give either a flow or a frame (hex), not both")),
    };
    if frame.len() < vepa_packet::ETH_HEADER_LEN {
        return Err(bad(
            "frame",
            format!("{} bytes is shorter than an Ethernet header", frame.len()),
        ));
    }
    Ok(frame)
}

impl Engine {
    /// Runs `frame`, as if received on `port` of `switch` now, through a
    /// shadow of the running datapath.
    pub fn trace(
        &self,
        switch: &str,
        port: &str,
        frame: &[u8],
    ) -> Result<TraceResult, ChangeError> {
        let spec = self.switch_spec(switch)?;
        if !spec.port_names().iter().any(|p| p == port) {
            return Err(ChangeError::NotFound {
                field: "port".into(),
                message: format!("no port '{port}' on switch '{switch}'"),
            });
        }
        if let Some((true, why)) = self.choices.get(switch) {
            return Err(ChangeError::Conflict {
                field: "switch".into(),
                message: format!(
                    "switch '{switch}' runs on the kernel backend ({why}): the kernel forwards its frames, and vepa trace follows vepa's own dataplane"
                ),
            });
        }
        let running = self.running.as_ref().ok_or_else(|| ChangeError::Conflict {
            field: "switch".into(),
            message: "forwarding is not running".into(),
        })?;
        let core = self.core(switch)?;
        let (Some(si), Some(id)) = (
            running.datapath.switch_index(switch),
            core.snapshot().port_id(port),
        ) else {
            return Err(ChangeError::Conflict {
                field: "switch".into(),
                message: format!("switch '{switch}' is not forwarding yet"),
            });
        };
        let t = running.datapath.trace(si, id, frame, self.now_ms());
        Ok(self.trace_result(switch, port, frame, t))
    }

    fn trace_result(&self, switch: &str, port: &str, frame: &[u8], t: Trace) -> TraceResult {
        let names = |sw: &str| -> Vec<String> {
            self.desired
                .switch(sw)
                .map(|s| s.port_names())
                .unwrap_or_default()
        };
        let hops = t
            .hops
            .into_iter()
            .map(|h| {
                let ports = if h.kind == HopKind::Switch {
                    names(&h.node)
                } else {
                    Vec::new()
                };
                TraceHop {
                    kind: match h.kind {
                        HopKind::Switch => "switch",
                        HopKind::Router => "router",
                    }
                    .into(),
                    name: h.node.clone(),
                    port: h.port,
                    steps: h
                        .steps
                        .into_iter()
                        .map(|s| TraceStep {
                            stage: s.stage.as_str().into(),
                            detail: match s.rule {
                                Some((table, id)) => format!(
                                    "{} {}",
                                    s.detail,
                                    self.flow_text(&h.node, table, id, &ports)
                                        .unwrap_or_else(|| format!("flow #{id} (removed since)"))
                                ),
                                None => s.detail,
                            },
                        })
                        .collect(),
                }
            })
            .collect();
        let outputs = t
            .deliveries
            .into_iter()
            .map(|d| TraceOutput {
                switch: d.switch,
                port: d.port,
                bytes: d.frame.len(),
                frame: Parsed::new(&d.frame)
                    .map(|p| describe_frame(&p))
                    .unwrap_or_default(),
            })
            .collect();
        TraceResult {
            switch: switch.into(),
            port: port.into(),
            frame: Parsed::new(frame)
                .map(|p| describe_frame(&p))
                .unwrap_or_default(),
            hops,
            outputs,
            to_controller: t.to_controller,
            to_link_agent: t.to_link_agent,
        }
    }
}
