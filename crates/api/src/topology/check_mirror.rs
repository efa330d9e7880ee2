//! A switch's `[[switch.mirror]]` entries as the dataplane takes them;
//! what only the file can get wrong (both outputs, none, nothing
//! selected, a name reused) is refused here, the rest by the switch.

use super::error::invalid;
use super::{MirrorDirection, SwitchSpec, TopologyError, MAX_NAME};
use vepa_dataplane::{MirrorConfig, MirrorOutput};

pub fn mirrors(s: &SwitchSpec) -> Result<Vec<MirrorConfig>, TopologyError> {
    let mut out: Vec<MirrorConfig> = Vec::new();
    for m in &s.mirrors {
        let at = format!("switch '{}', mirror '{}'", s.name, m.name);
        if m.name.is_empty() || m.name.len() > MAX_NAME {
            return Err(invalid(
                format!("switch '{}'", s.name),
                "mirror.name",
                format!("a mirror needs a name of 1 to {MAX_NAME} characters"),
            ));
        }
        if out.iter().any(|o| o.name == m.name) {
            return Err(invalid(
                at,
                "name",
                "two mirrors on this switch have this name",
            ));
        }
        if m.select.is_empty() {
            return Err(invalid(at, "select", "name the ports to watch"));
        }
        let output =
            match (&m.output, m.output_vlan) {
                (Some(p), None) => MirrorOutput::Port(p.clone()),
                (None, Some(v)) => MirrorOutput::UplinkVlan(v),
                (Some(_), Some(_)) => return Err(invalid(
                    at,
                    "output",
                    "give output (a monitor port) or output_vlan (RSPAN on the uplink), not both",
                )),
                (None, None) => {
                    return Err(invalid(
                        at,
                        "output",
                        "give output (a monitor port) or output_vlan (RSPAN on the uplink)",
                    ))
                }
            };
        let (watch_in, watch_out) = match m.direction {
            MirrorDirection::In => (true, false),
            MirrorDirection::Out => (false, true),
            MirrorDirection::Both => (true, true),
        };
        out.push(MirrorConfig {
            name: m.name.clone(),
            select_in: if watch_in {
                m.select.clone()
            } else {
                Vec::new()
            },
            select_out: if watch_out {
                m.select.clone()
            } else {
                Vec::new()
            },
            vlans: m.vlans.clone(),
            output,
        });
    }
    Ok(out)
}
