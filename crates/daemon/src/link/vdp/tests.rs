//! VDP's two roles against each other and against lldpad's bytes.

use super::*;

const T: Timers = Timers {
    retries: 3,
    rte: 14,
    rwd: 20,
    rka: 20,
};

fn want(n: u8) -> VsiWant {
    VsiWant {
        port: format!("vm{n}"),
        mac: MacAddr([0x52, 0x54, 0, 0, 0, n]),
        vid: 0,
        type_id: 0x1234,
        version: 1,
        uuid: [n; 16],
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

#[test]
fn a_station_and_a_bridge_associate_keep_alive_and_part() {
    let (mut st, mut br) = (StationSide::default(), BridgeSide::default());
    let asks = st.follow(&[want(1), want(2)], &T, 0);
    assert_eq!(asks.len(), 2);
    assert_eq!(st.view()[0].state, "asked");
    for a in &asks {
        // Through the wire format, as ECP carries it.
        let a = VdpPdu::parse(&a.to_bytes()).expect("parses");
        for answer in br.request(&a, 5) {
            st.response(&VdpPdu::parse(&answer.to_bytes()).unwrap(), 10);
        }
    }
    assert!(st.view().iter().all(|v| v.state == "associated"));
    let mut cover = br.associated();
    cover.sort();
    assert_eq!(cover, vec![(want(1).mac, 0), (want(2).mac, 0)]);
    assert_eq!(br.view()[0].uuid, "01010101-0101-0101-0101-010101010101");
    // Nothing until the keep-alive (10.485 s), then the same request.
    assert!(st.due(&T, 10_000).is_empty());
    let ka = st.due(&T, 10_485);
    assert_eq!(ka.len(), 2);
    assert_eq!(ka[0].vsis[0].request, VsiRequest::Associate);
    for a in &ka {
        br.request(a, 10_500);
    }
    // A VM goes: DE-ASSOCIATE, answered, forgotten on both sides.
    let bye = st.follow(&[want(2)], &T, 11_000);
    assert_eq!(bye.len(), 1);
    assert_eq!(bye[0].vsis[0].request, VsiRequest::Deassociate);
    for answer in br.request(&bye[0], 11_001) {
        st.response(&answer, 11_002);
    }
    assert_eq!(st.view().len(), 1);
    assert_eq!(br.associated(), vec![(want(2).mac, 0)]);
    // The station goes quiet: the bridge ends the VSI after 1.5 × (7 ×
    // 163 + 10485) ms, and tells it.
    assert!(br.expire(&T, 10_500 + 17_438).is_empty());
    let ended = br.expire(&T, 10_500 + 17_439);
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (ended[0].vsis[0].request, ended[0].vsis[0].status),
        (VsiRequest::Deassociate, 0)
    );
    st.response(&ended[0], 28_000);
    assert_eq!(st.view()[0].state, "ended by the bridge");
    assert!(br.associated().is_empty());
}

#[test]
fn a_silent_bridge_leaves_the_station_asking() {
    let mut st = StationSide::default();
    st.follow(&[want(1)], &T, 0);
    assert!(st.due(&T, 17_438).is_empty());
    st.due(&T, 17_439);
    assert_eq!(st.view()[0].state, "no answer from the bridge");
    // Asked again at once.
    assert_eq!(st.due(&T, 17_439).len(), 1);
    assert_eq!(st.view()[0].state, "asked");
    // A request ECP gave up on (never acknowledged) is asked again a
    // second later, not after the answer's timeout.
    st.unacknowledged(18_000);
    assert_eq!(st.view()[0].state, "no answer from the bridge");
    assert!(st.due(&T, 18_999).is_empty());
    assert_eq!(st.due(&T, 19_000).len(), 1);
}

#[test]
fn the_bridge_refuses_what_it_cannot_enforce_and_bounds_a_station() {
    let mut br = BridgeSide::default();
    let mut bad = want(1).tlv(VsiRequest::Associate);
    bad.filters[0].mac = Some(MacAddr([0x01, 0, 0x5e, 0, 0, 1]));
    let a = br.request(&pdu(bad), 0);
    assert_eq!(
        a[0].vsis[0].status,
        status::RESPONSE | status::INVALID_FILTER
    );
    let mut vid_only = want(2).tlv(VsiRequest::Associate);
    vid_only.format = FilterFormat::Vid;
    let a = br.request(&pdu(vid_only), 0);
    assert_eq!(
        a[0].vsis[0].status,
        status::RESPONSE | status::INVALID_FORMAT
    );
    for i in 0..MAX_VSIS {
        let mut w = want(3);
        w.uuid[0] = i as u8;
        w.uuid[1] = (i >> 8) as u8 + 1;
        assert_eq!(
            br.request(&pdu(w.tlv(VsiRequest::Associate)), 0)[0].vsis[0].status,
            status::RESPONSE
        );
    }
    let a = br.request(&pdu(want(4).tlv(VsiRequest::Associate)), 0);
    assert_eq!(
        a[0].vsis[0].status,
        status::RESPONSE | status::INSUFFICIENT_RESOURCES
    );
    assert_eq!(br.refused, 3);
    // Pre-associated VSIs are kept but admit nothing.
    let mut br = BridgeSide::default();
    br.request(&pdu(want(5).tlv(VsiRequest::PreAssociate)), 0);
    assert!(br.associated().is_empty());
    assert_eq!(br.view()[0].state, "pre-associated");
}

#[test]
fn answers_lldpads_station_as_lldpads_bridge_does() {
    // lldpad's station ASSOCIATE (after the ECP header), and the response
    // its bridge sent: every field echoed, status 0x40.
    let ask = hex("0a10 00000000000000000000000000000000
        0621 00 001234 01 05 a1b2c3d4e5f611223344556677889900 02 0001 02000000 0a02 0064");
    let pdu_in = VdpPdu::parse(&ask).expect("lldpad's request");
    let mut br = BridgeSide::default();
    let out = br.request(&pdu_in, 0);
    let mut want_bytes = ask.clone();
    want_bytes[20] = 0x40;
    let got = out[0].to_bytes();
    assert_eq!(&got[..got.len() - 2], &want_bytes[..], "then an End TLV");
    assert_eq!(br.associated(), vec![(MacAddr([2, 0, 0, 0, 0x0a, 2]), 100)]);
    // And our station's request reads as lldpad's, field for field.
    let w = VsiWant {
        port: "vm".into(),
        mac: MacAddr([2, 0, 0, 0, 0x0a, 2]),
        vid: 100,
        type_id: 0x1234,
        version: 1,
        uuid: hex("a1b2c3d4e5f611223344556677889900").try_into().unwrap(),
    };
    let ours = pdu(w.tlv(VsiRequest::Associate)).to_bytes();
    assert_eq!(&ours[..ours.len() - 2], &ask[..]);
}
