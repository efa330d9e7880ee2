//! The dataplane against a reference model, over random switches and frame
//! sequences.
//!
//! The model restates docs/design.md §2 the slow, obvious way: a list of FDB
//! entries scanned linearly, and for each candidate port a yes/no predicate
//! "should this port receive the frame". The switch computes the same with
//! hash lookups and targeted flood sets; any disagreement in deliveries,
//! tags or drop reason is a bug in one of them.

mod common;
use common::*;
use proptest::prelude::*;
use vepa_dataplane::{
    egress_tag, ingress_vid, DropReason, PortConfig, PortId, PortMode, PortRole, Switch,
    SwitchConfig,
};
use vepa_packet::{MacAddr, VlanTag};

const AGEING: u64 = 300_000;

struct Model {
    cfg: SwitchConfig,
    /// (mac, vid, port, last seen)
    fdb: Vec<(MacAddr, u16, usize, u64)>,
}

impl Model {
    fn mode(&self, p: usize) -> Option<PortMode> {
        self.cfg.ports[p].mode()
    }
    fn uplink(&self) -> Option<usize> {
        self.cfg
            .ports
            .iter()
            .position(|p| p.role == PortRole::Uplink)
    }
    fn relay(&self, p: usize) -> bool {
        self.cfg.ports[p].relay
    }
    fn sweep(&mut self, now: u64) {
        self.fdb.retain(|e| now - e.3 < AGEING);
    }
    fn lookup(&self, mac: MacAddr, vid: u16) -> Option<usize> {
        self.fdb
            .iter()
            .find(|e| e.0 == mac && e.1 == vid)
            .map(|e| e.2)
    }

    fn step(
        &mut self,
        port: usize,
        bytes: &[u8],
        now: u64,
    ) -> Result<Vec<(usize, Option<u16>)>, DropReason> {
        self.sweep(now);
        if bytes.len() < 14 || (bytes[12] == 0x81 && bytes[13] == 0 && bytes.len() < 18) {
            return Err(DropReason::Malformed);
        }
        let dst = MacAddr::from_slice(&bytes[0..6]);
        let src = MacAddr::from_slice(&bytes[6..12]);
        if src.is_multicast() {
            return Err(DropReason::InvalidSource);
        }
        let tag = (bytes[12] == 0x81 && bytes[13] == 0)
            .then(|| VlanTag::from_tci(u16::from_be_bytes([bytes[14], bytes[15]])));
        let vid = ingress_vid(&self.cfg.ports[port].vlan, tag).ok_or(DropReason::VlanIngress)?;
        let up = self.uplink();
        let is_up = Some(port) == up;

        let known_src = self.lookup(src, vid);
        let sender = match known_src {
            Some(q) if is_up && q != port => Some(q),
            _ => {
                let count = self.fdb.iter().filter(|e| e.2 == port).count() as u32;
                match self.fdb.iter_mut().find(|e| e.0 == src && e.1 == vid) {
                    // Ages are refreshed at most once a second.
                    Some(e) if e.2 == port => {
                        if now - e.3 >= 1000 {
                            e.3 = now;
                        }
                    }
                    // Over the limit: forwarded, not learned.
                    _ if count >= self.cfg.ports[port].mac_limit => {}
                    Some(e) => {
                        e.2 = port;
                        e.3 = now;
                    }
                    None => self.fdb.push((src, vid, port, now)),
                }
                None
            }
        };

        let passthru =
            (0..self.cfg.ports.len()).find(|p| self.mode(*p) == Some(PortMode::Passthru));
        let dst_port = if dst.is_multicast() {
            None
        } else {
            self.lookup(dst, vid)
        };
        let in_mode = self.mode(port);
        if !is_up && in_mode != Some(PortMode::Veb) && up.is_none() {
            return Err(DropReason::NoUplink);
        }
        // Whole-frame verdicts that do not depend on the candidate port.
        if passthru.is_none() && !dst.is_multicast() {
            if let Some(t) = dst_port {
                if t == port && (is_up || in_mode == Some(PortMode::Veb)) && !self.relay(port) {
                    return Err(DropReason::NoHairpin);
                }
                if let (Some(s), true) = (sender, t != port) {
                    if self.mode(t) != Some(PortMode::Source) {
                        if s != t
                            && (self.mode(s) == Some(PortMode::Private)
                                || self.mode(t) == Some(PortMode::Private))
                        {
                            return Err(DropReason::PrivateIsolation);
                        }
                        if s != t
                            && self.mode(s) == Some(PortMode::Veb)
                            && self.mode(t) == Some(PortMode::Veb)
                        {
                            return Err(DropReason::AlreadyDelivered);
                        }
                    }
                }
            }
        }

        let wants = |q: usize| -> bool {
            let qm = self.mode(q);
            if let Some(owner) = passthru {
                return if is_up { q == owner } else { Some(q) == up };
            }
            let flood_from_up = |unicast: bool| match sender {
                None => qm.is_some() && qm != Some(PortMode::Source),
                Some(s) => match self.mode(s) {
                    Some(PortMode::Vepa) => {
                        q != s && matches!(qm, Some(PortMode::Veb | PortMode::Vepa))
                    }
                    Some(PortMode::Veb) => q != s && qm == Some(PortMode::Vepa),
                    _ => !unicast && q == s,
                },
            };
            if is_up {
                let copy =
                    qm == Some(PortMode::Source) && self.cfg.ports[q].source_macs.contains(&src);
                let normal = match (dst.is_multicast(), dst_port) {
                    (true, _) | (false, None) => {
                        if q == port {
                            self.relay(port)
                        } else {
                            flood_from_up(!dst.is_multicast())
                        }
                    }
                    (false, Some(t)) if t == port => q == port,
                    (false, Some(t)) => q == t && self.mode(t) != Some(PortMode::Source),
                };
                return copy || normal;
            }
            let veb_flood = |q: usize| qm == Some(PortMode::Veb) && (q != port || self.relay(port));
            match (in_mode, dst.is_multicast(), dst_port) {
                (Some(PortMode::Veb), true, _) | (Some(PortMode::Veb), false, None) => {
                    Some(q) == up || veb_flood(q)
                }
                (Some(PortMode::Veb), false, Some(t)) if t == port => q == port,
                (Some(PortMode::Veb), false, Some(t)) if self.mode(t) == Some(PortMode::Veb) => {
                    q == t
                }
                (Some(PortMode::Veb), false, Some(_)) => Some(q) == up,
                _ => Some(q) == up,
            }
        };
        let mut out = Vec::new();
        for q in 0..self.cfg.ports.len() {
            if wants(q) {
                if let Some(tag) = egress_tag(&self.cfg.ports[q].vlan, vid) {
                    out.push((q, tag));
                }
            }
        }
        if out.is_empty() {
            if passthru.is_none() && sender.is_some_and(|s| self.mode(s) == Some(PortMode::Veb)) {
                return Err(DropReason::AlreadyDelivered);
            }
            return Err(DropReason::NoDestination);
        }
        out.sort();
        Ok(out)
    }
}

fn arb_vlan() -> impl Strategy<Value = vepa_dataplane::VlanMode> {
    prop_oneof![
        3 => Just(vepa_dataplane::VlanMode::Access { vid: 1 }),
        1 => Just(vepa_dataplane::VlanMode::Access { vid: 2 }),
        1 => prop::option::of(1u16..=2).prop_map(|native| vepa_dataplane::VlanMode::Trunk {
            allowed: [1u16, 2].into_iter().collect(),
            native: native.or(Some(1)),
        }),
    ]
}

fn arb_port(role: PortRole) -> impl Strategy<Value = PortConfig> {
    (
        any::<bool>(),
        arb_vlan(),
        1u32..4,
        prop::collection::vec(0u8..6, 0..2),
    )
        .prop_map(move |(relay, vlan, limit, srcs)| {
            let mut p = PortConfig::new("p", role);
            p.relay = relay;
            p.vlan = vlan;
            p.mac_limit = limit;
            if role == PortRole::Downlink(PortMode::Source) {
                p.source_macs = srcs.into_iter().map(mac).collect();
            }
            p
        })
}

fn arb_switch() -> impl Strategy<Value = SwitchConfig> {
    let mode = prop_oneof![
        Just(PortMode::Veb),
        Just(PortMode::Vepa),
        Just(PortMode::Private),
        Just(PortMode::Source)
    ];
    (
        any::<bool>(),
        prop::collection::vec(mode, 1..5),
        any::<bool>(),
    )
        .prop_flat_map(|(has_up, modes, passthru)| {
            let mut roles: Vec<PortRole> = Vec::new();
            if has_up {
                roles.push(PortRole::Uplink);
            }
            if has_up && passthru {
                roles.push(PortRole::Downlink(PortMode::Passthru));
            } else {
                for m in modes {
                    roles.push(PortRole::Downlink(if has_up { m } else { PortMode::Veb }));
                }
            }
            roles.into_iter().map(arb_port).collect::<Vec<_>>()
        })
        .prop_map(|mut ports| {
            for (i, p) in ports.iter_mut().enumerate() {
                p.name = format!("p{i}");
            }
            let mut c = SwitchConfig::new("prop", ports);
            c.ageing_ms = AGEING;
            c
        })
}

#[derive(Debug, Clone)]
struct Input {
    port: usize,
    src: u8,
    dst: u8,
    tag: Option<u16>,
    advance_ms: u64,
    truncate: Option<usize>,
}

fn arb_input() -> impl Strategy<Value = Input> {
    (
        0usize..8,
        0u8..8,
        0u8..8,
        prop::option::of(0u16..4),
        prop_oneof![4 => 0u64..1000, 1 => 100_000u64..400_000],
        prop::option::weighted(0.05, 0usize..20),
    )
        .prop_map(|(port, src, dst, tag, advance_ms, truncate)| Input {
            port,
            src,
            dst,
            tag,
            advance_ms,
            truncate,
        })
}

/// MAC pool: six unicast stations, a multicast group and broadcast.
fn pool(n: u8) -> MacAddr {
    match n {
        6 => MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]),
        7 => MacAddr::BROADCAST,
        n => mac(n),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn switch_agrees_with_the_model(cfg in arb_switch(), inputs in prop::collection::vec(arb_input(), 1..60)) {
        let mut sw = Switch::new(cfg.clone()).expect("generated configs are valid");
        let mut model = Model { cfg: cfg.clone(), fdb: Vec::new() };
        let mut out = Vec::new();
        let mut now = 0u64;
        for (i, inp) in inputs.iter().enumerate() {
            now += inp.advance_ms;
            sw.tick(now);
            let port = inp.port % cfg.ports.len();
            let mut f = frame(pool(inp.dst), pool(inp.src), inp.tag);
            if let Some(t) = inp.truncate {
                f.truncate(t);
            }
            let want = model.step(port, &f, now);
            let got = sw.process(PortId(port as u16), &f, now, &mut out).map(|()| {
                let mut v: Vec<(usize, Option<u16>)> = out.iter().map(|e| (e.port.index(), e.tag)).collect();
                v.sort();
                v
            });
            prop_assert_eq!(&got, &want, "step {} {:?} on {:?}", i, inp, cfg.ports.get(port).map(|p| (p.role, p.relay)));
        }
    }
}
