//! The link agent's table: timing of LLDPDUs, neighbours heard, aged and
//! bounded, and hostile frames counted.

use super::*;
use vepa_packet::lldp::{EvbMode, RrStatus};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// lldpad as an EVB bridge (evbrrcap=yes), as captured.
const LLDPAD: &str = "0180c2000000 020000000b01 88cc 0207 04020000000b01 0407 03020000000b01
    0602 0078 fe09 0080c2 0d 02 00 6e 54 14 0000 0000000000000000000000";

fn role(port: &str, relay: bool, rr_request: bool) -> Role {
    Role {
        switch: "s".into(),
        port: port.into(),
        relay,
        on_request: relay,
        rr_request,
        policy: RelayRequired::FallbackVeb,
        vsis: Vec::new(),
        vdp_enforce: false,
    }
}

fn table() -> LinkTable {
    let mut t = LinkTable::default();
    t.follow(&[role("up", false, true)], 0);
    t
}

#[test]
fn four_fast_lldpdus_then_one_every_thirty_seconds() {
    let mut t = table();
    let sent: Vec<u64> = (0..=70_000)
        .step_by(500)
        .filter(|&ms| t.due("s", "up", ms))
        .collect();
    assert_eq!(sent, vec![0, 1000, 2000, 3000, 4000, 34_000, 64_000]);
    assert!(!t.due("s", "nowhere", 0));
}

#[test]
fn a_neighbour_is_heard_shown_and_forgotten() {
    let mut t = table();
    for ms in [0, 1000, 2000, 3000, 4000] {
        assert!(t.due("s", "up", ms));
    }
    t.receive("s", "up", &hex(LLDPAD), 10_000);
    // A new neighbour: fast transmission again.
    assert!(t.due("s", "up", 10_000));
    let v = t.view(10_000, |_, _| 3);
    assert_eq!(v.len(), 1);
    let p = &v[0];
    assert_eq!(
        (p.role.as_str(), p.lldp_rx, p.rx_over_budget),
        ("uplink", 1, 3)
    );
    let n = &p.neighbours[0];
    assert_eq!(n.chassis_id, "02:00:00:00:0b:01");
    assert_eq!((n.ttl, n.expires_in), (120, 120));
    let evb = n.evb.as_ref().expect("EVB TLV");
    assert_eq!(
        (evb.mode.as_str(), evb.rrcap, evb.rrctr),
        ("bridge", true, false)
    );
    // Heard again: refreshed, still one.
    t.receive("s", "up", &hex(LLDPAD), 100_000);
    t.age(200_000);
    assert_eq!(t.view(200_000, |_, _| 0)[0].neighbours.len(), 1);
    // Silent past its TTL: gone, and counted.
    t.age(220_001);
    let p = &t.view(220_001, |_, _| 0)[0];
    assert!(p.neighbours.is_empty());
    assert_eq!(p.aged_out, 1);
    // A shutdown LLDPDU (TTL 0) forgets at once.
    t.receive("s", "up", &hex(LLDPAD), 300_000);
    let mut bye = hex(LLDPAD);
    bye[34..36].copy_from_slice(&[0, 0]);
    t.receive("s", "up", &bye, 301_000);
    assert!(t.view(301_000, |_, _| 0)[0].neighbours.is_empty());
}

#[test]
fn hostile_frames_are_counted_and_bounded() {
    let mut t = table();
    let mut cut = hex(LLDPAD);
    cut.truncate(20);
    t.receive("s", "up", &cut, 0);
    t.receive("s", "up", &[0u8; 5], 0);
    let mut ecp = hex(LLDPAD);
    ecp[12..14].copy_from_slice(&[0x89, 0x40]);
    t.receive("s", "up", &ecp, 0);
    let p = &t.view(0, |_, _| 0)[0];
    assert_eq!((p.rx_errors, p.lldp_rx), (3, 0));
    assert!(
        p.last_error.as_deref().unwrap_or("").contains("ECP"),
        "{:?}",
        p.last_error
    );
    // A peer inventing chassis IDs fills this port's table and no more.
    for i in 0..20u8 {
        let mut f = hex(LLDPAD);
        f[22] = i;
        t.receive("s", "up", &f, 0);
    }
    let p = &t.view(0, |_, _| 0)[0];
    assert_eq!(p.neighbours.len(), MAX_NEIGHBOURS);
    assert!(
        p.last_error.as_deref().unwrap_or("").contains("at most"),
        "{:?}",
        p.last_error
    );
    // Frames for a port the agent does not run on are ignored.
    t.receive("s", "vm1", &hex(LLDPAD), 0);
    assert_eq!(t.view(0, |_, _| 0).len(), 1);
}

#[test]
fn the_uplink_asks_for_reflective_relay_and_learns_the_answer() {
    let mut t = table();
    assert_eq!(
        t.view(0, |_, _| 0)[0].reflective_relay.as_deref(),
        Some("no EVB peer")
    );
    // lldpad as a bridge that can relay, before it heard our request.
    t.receive("s", "up", &hex(LLDPAD), 0);
    let v = &t.view(0, |_, _| 0)[0];
    assert!(
        v.reflective_relay
            .as_deref()
            .unwrap_or("")
            .starts_with("refused"),
        "{v:?}"
    );
    assert_eq!(v.neighbours[0].agent, "nearest customer bridge");
    // It heard us and turned relay on (RRCTR), as lldpad does.
    let mut on = hex(LLDPAD);
    on[42] = 0x03;
    t.receive("s", "up", &on, 1000);
    let v = &t.view(1000, |_, _| 0)[0];
    assert_eq!(v.reflective_relay.as_deref(), Some("granted"));
    assert_eq!(v.neighbours.len(), 1, "the same neighbour, refreshed");
    // And our next EVB TLV says so (RRSTAT on).
    assert!(t.peer_evb("s", "up").is_some_and(|b| b.rrctr));
}

fn port(relay: bool, rr_request: bool) -> AgentPort {
    let (device, _wire) = vepa_io::loopback::loopback("lo-test").expect("loopback port");
    AgentPort {
        switch: "s".into(),
        port: "up".into(),
        id: vepa_dataplane::PortId(0),
        relay,
        on_request: false,
        rr_request,
        policy: RelayRequired::Warn,
        lldp: true,
        vsis: Vec::new(),
        vdp_enforce: false,
        device: Arc::new(device),
    }
}

#[test]
fn our_lldpdus_read_back() {
    let frames = lldp_frames("host-a", &port(false, true), None);
    assert_eq!(
        frames.len(),
        2,
        "to the nearest bridge, and the EVB TLV to the nearest customer bridge"
    );
    assert_eq!(&frames[0][..6], &NEAREST_BRIDGE.0);
    assert_eq!(&frames[1][..6], &NEAREST_CUSTOMER_BRIDGE.0);
    let du = Lldpdu::parse(&frames[0][14..]).expect("parses");
    assert_eq!(du.chassis.display(), "host-a");
    assert_eq!(du.port.display(), "s/up");
    assert_eq!(du.ttl, TTL_S);
    assert_eq!(
        du.port_description.as_deref(),
        Some("vepa switch s, uplink up")
    );
    assert!(du.evb.is_none());
    let evb = Lldpdu::parse(&frames[1][14..])
        .expect("parses")
        .evb
        .expect("EVB TLV");
    assert_eq!(
        (evb.mode, evb.rrreq, evb.rrstat),
        (EvbMode::Station, true, RrStatus::Unknown)
    );
    // A relay port speaks as a bridge: relay capable, on once asked.
    let frames = lldp_frames("host-a", &port(true, false), None);
    let evb = Lldpdu::parse(&frames[1][14..])
        .expect("parses")
        .evb
        .expect("EVB TLV");
    assert_eq!(
        (evb.mode, evb.rrcap, evb.rrctr),
        (EvbMode::Bridge, true, false)
    );
}

#[test]
fn relay_changes_are_reported_once_each() {
    let mut t = table();
    let c = t.relay_changes();
    assert_eq!(
        (c.len(), c[0].state.as_str(), c[0].needed, c[0].policy),
        (1, "no EVB peer", true, RelayRequired::FallbackVeb)
    );
    assert!(t.relay_changes().is_empty());
    t.receive("s", "up", &hex(LLDPAD), 0);
    let c = t.relay_changes();
    assert_eq!(c.len(), 1);
    assert!(c[0].state.starts_with("refused"), "{c:?}");
    t.receive("s", "up", &hex(LLDPAD), 10);
    assert!(t.relay_changes().is_empty(), "unchanged");
}

#[test]
fn a_vdp_request_at_a_relay_port_is_acked_answered_and_counted() {
    let id = |p: &str| (p == "st").then_some(vepa_dataplane::PortId(1));
    let mut t = LinkTable::default();
    t.follow(&[role("st", true, false)], 0);
    // lldpad's station ASSOCIATE, seq 1, as captured.
    let req = hex(
        "0180c2000000 020000000a01 8940 1001 0001 0a10 00000000000000000000000000000000
        0621 00 001234 01 05 a1b2c3d4e5f611223344556677889900 02 0001 02000000 0a02 0064",
    );
    t.receive("s", "st", &req, 0);
    let out = t.take_outbox();
    assert_eq!(out.len(), 1, "the ACK at once");
    assert_eq!(&out[0].2[12..18], &[0x89, 0x40, 0x14, 0x01, 0x00, 0x01]);
    t.vdp_step(0);
    let out = t.take_outbox();
    assert_eq!(out.len(), 1, "the answer");
    let f = &out[0].2;
    assert_eq!(
        (&f[..6], f[14], f[38]),
        (&[1, 0x80, 0xc2, 0, 0, 0][..], 0x10, 0x40)
    );
    let facts = t.facts("s", id);
    assert_eq!(
        facts.vdp_associated,
        vec![(
            vepa_dataplane::PortId(1),
            MacAddr([2, 0, 0, 0, 0x0a, 2]),
            100
        )]
    );
    // The station acknowledges the answer (lldpad's 18-byte ACK); the
    // same request again is acked, not answered twice.
    t.receive(
        "s",
        "st",
        &hex("0180c2000000 020000000a01 8940 1401 0001"),
        1,
    );
    t.receive("s", "st", &req, 5);
    t.vdp_step(5);
    assert_eq!(t.take_outbox().len(), 1, "only the ACK");
    let v = &t.vdp_view()[0];
    assert_eq!((v.ecp_rx, v.ecp_duplicates, v.vsis.len()), (2, 1, 1));
    // A truncated VDP payload: acked (ECP got it), counted as unreadable.
    let mut cut = req.clone();
    cut[17] = 2;
    cut.truncate(40);
    t.receive("s", "st", &cut, 10);
    assert_eq!(t.vdp_view()[0].vdp_errors, 1);
}

#[test]
fn facts_follow_the_bridge_the_probe_and_the_stations() {
    let id = |p: &str| match p {
        "up" => Some(vepa_dataplane::PortId(0)),
        "st" => Some(vepa_dataplane::PortId(1)),
        _ => None,
    };
    let mut t = LinkTable::default();
    t.follow(&[role("up", false, true), role("st", true, false)], 0);
    assert_eq!(t.facts("s", id), vepa_dataplane::LinkFacts::default());
    assert_eq!(t.facts("other", id), vepa_dataplane::LinkFacts::default());
    // No EVB peer: the probe runs after 3 s, and its test frame comes back.
    assert!(t.probes_due(2_999).is_empty());
    let due = t.probes_due(3_000);
    assert_eq!(due.len(), 1, "the uplink only");
    let (_, _, frames) = &due[0];
    t.receive("s", "up", &frames[1], 3_010);
    let f = t.facts("s", id);
    assert!(f.relay_granted, "{f:?}");
    let v = t.view(3_010, |_, _| 0);
    assert_eq!(
        v[1].reflective_relay.as_deref(),
        Some("reflecting (probe; no EVB peer)")
    );
    assert_eq!(v[1].relay_required.as_deref(), Some("fallback-veb"));
    // The next one sees nothing come back.
    let due = t.probes_due(63_000);
    assert_eq!(due.len(), 1);
    t.age(63_000 + 799);
    assert!(t.facts("s", id).relay_granted, "still waiting");
    t.age(63_800);
    assert!(!t.facts("s", id).relay_granted);
    // A forged test frame (another nonce) is counted, not believed.
    let mut forged = due[0].2[1].clone();
    forged[40] ^= 0xff;
    t.receive("s", "up", &forged, 63_900);
    assert!(!t.facts("s", id).relay_granted);
    assert!(t.view(63_900, |_, _| 0)[1]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("relay probe"));
    // An EVB bridge that grants outranks the probe, and stops it.
    let mut on = hex(LLDPAD);
    on[42] = 0x03;
    t.receive("s", "up", &on, 64_000);
    assert!(t.facts("s", id).relay_granted);
    assert!(
        t.probes_due(200_000).is_empty(),
        "no probe with an EVB peer"
    );
    // A station asking for relay on the relay port (lldpad's station TLV).
    let mut st = hex(LLDPAD);
    st[42..47].copy_from_slice(&[0x00, 0x07, 0x6e, 0x94, 0x14]);
    t.receive("s", "st", &st, 64_000);
    let f = t.facts("s", id);
    assert_eq!(f.relay_requested, vec![vepa_dataplane::PortId(1)], "{f:?}");
    let v = t.view(64_000, |_, _| 0);
    assert_eq!(
        v[0].reflective_relay.as_deref(),
        Some("on (the station asks, EVB)")
    );
}

proptest::proptest! {
    /// Whatever a peer sends its agent, the table counts it or reads it,
    /// and never panics; its views stay whole.
    #[test]
    fn random_frames_never_panic(
        frames in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 1..20),
        kind in 0u8..5,
    ) {
        // LLDP, ECP (with VDP after a valid header, so VDP's parser is
        // reached), the relay probe, or anything, at an uplink and at a
        // relay port (VDP's station and bridge sides).
        let mut t = LinkTable::default();
        t.follow(&[role("up", false, true), role("st", true, false)], 0);
        for (i, mut f) in frames.into_iter().enumerate() {
            if f.len() >= 18 {
                match kind {
                    0 => f[12..14].copy_from_slice(&[0x88, 0xcc]),
                    1 => f[12..18].copy_from_slice(&[0x89, 0x40, 0x10, 0x01, 0, i as u8]),
                    2 => f[12..14].copy_from_slice(&[0x89, 0x40]),
                    3 => f[12..14].copy_from_slice(&[0x88, 0xb5]),
                    _ => {}
                }
            }
            for port in ["up", "st"] {
                t.receive("s", port, &f, i as u64);
            }
            t.vdp_step(i as u64);
        }
        t.age(1_000_000);
        t.vdp_step(1_000_000);
        let _ = t.take_outbox();
        let v = t.view(0, |_, _| 0);
        proptest::prop_assert!(v.iter().all(|p| p.neighbours.len() <= MAX_NEIGHBOURS));
        let _ = t.vdp_view();
    }
}
