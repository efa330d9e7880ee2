//! ECP and VDP: lldpad's own frames (Debian's lldpad 1.1, vdp22, captured
//! in a namespace), round trips, and hostile input.

use super::*;
use crate::lldp::NEAREST_CUSTOMER_BRIDGE;
use crate::test_hex as hex;
use proptest::prelude::*;

/// lldpad as station: `vdptool -V assoc -c typeid=4660 -c typeidver=1
/// -c uuid=a1b2c3d4-... -c filter=100-02:00:00:00:0a:02`.
const ASSOCIATE: &str = "0180c2000000 020000000a01 8940 1001 0001
    0a10 00000000000000000000000000000000
    0621 00 001234 01 05 a1b2c3d4e5f611223344556677889900 02 0001 020000000a02 0064";

#[test]
fn reads_lldpads_associate() {
    let f = hex(ASSOCIATE);
    assert_eq!(u16::from_be_bytes([f[12], f[13]]), ECP_ETHERTYPE);
    let (h, payload) = EcpHeader::parse(&f[14..]).unwrap();
    assert_eq!(
        h,
        EcpHeader {
            op: EcpOp::Request,
            subtype: ULP_VDP,
            seq: 1
        }
    );
    let pdu = VdpPdu::parse(payload).unwrap();
    assert_eq!(pdu.manager_id, [0; 16]);
    assert_eq!(pdu.vsis.len(), 1);
    let v = &pdu.vsis[0];
    assert_eq!(v.request, VsiRequest::Associate);
    assert!(!v.is_response());
    assert_eq!((v.type_id, v.type_version, v.id_format), (0x1234, 1, 5));
    assert_eq!(v.id[0], 0xa1);
    assert_eq!(v.format, FilterFormat::MacVid);
    assert_eq!(
        v.filters,
        vec![VsiFilter {
            group: None,
            mac: Some(MacAddr([2, 0, 0, 0, 0x0a, 2])),
            ps: false,
            pcp: 0,
            vid: 100
        }]
    );
    // Written again: lldpad's bytes, plus the End TLV lldpad needs.
    let mut again = pdu.to_bytes();
    assert_eq!(again.split_off(again.len() - 2), vec![0, 0]);
    assert_eq!(again, payload);
    // The bridge's answer echoes it with the response bit; the ack is 18 bytes.
    let ack = EcpHeader {
        op: EcpOp::Ack,
        ..h
    };
    assert_eq!(ack.to_bytes(), [0x14, 0x01, 0, 1]);
}

#[test]
fn reads_other_requests_lldpad_sends() {
    // pre-associate with RR, hints=from, VID format, VID 0 (the bridge chooses).
    let p = VdpPdu::parse(&hex("0a10 00000000000000000000000000000000
         041b 20 000001 02 05 0102030405060708090a0b0c0d0e0f10 01 0001 0000"))
    .unwrap();
    let v = &p.vsis[0];
    assert_eq!(v.request, VsiRequest::PreAssociateWithRr);
    assert_eq!(v.status, status::MIGRATE_FROM);
    assert_eq!(v.filters[0].vid, 0);
    // A text manager ID, hints=to, two VID entries, PCP in the first.
    let p = VdpPdu::parse(&hex("0a10 626c61626c6100000000000000000000
         061d 10 000005 04 05 00112233445566778899aabbccddeeff 01 0002 3064 0065"))
    .unwrap();
    assert_eq!(&p.manager_id[..6], b"blabla");
    let v = &p.vsis[0];
    assert_eq!(v.status, status::MIGRATE_TO);
    assert_eq!((v.filters[0].pcp, v.filters[0].vid), (3, 100));
    assert_eq!((v.filters[1].pcp, v.filters[1].vid), (0, 101));
}

#[test]
fn names_what_is_wrong() {
    let mgr = "0a10 00000000000000000000000000000000";
    let cases: Vec<(String, EcpError)> = vec![
        (String::new(), EcpError::ManagerId),
        (
            "0621 00 001234 01 05 a1b2c3d4e5f611223344556677889900 02 0001 020000000a02 0064".into(),
            EcpError::ManagerId,
        ),
        (format!("{mgr} {mgr}"), EcpError::ManagerId),
        (
            "0a0f 000000000000000000000000000000".into(),
            EcpError::BadLength {
                tlv: "manager ID",
                len: 15,
                expected: 16,
            },
        ),
        (
            format!("{mgr} 0622 00 001234 01 05 a1b2c3d4e5f611223344556677889900 02 0001 020000000a02 0064 00"),
            EcpError::BadLength {
                tlv: "associate",
                len: 34,
                expected: 33,
            },
        ),
        (
            format!("{mgr} 0619 00 001234 01 05 a1b2c3d4e5f611223344556677889900 07 0001"),
            EcpError::FilterFormat(7),
        ),
        (
            format!("{mgr} 0619 00 001234 01 05 a1b2c3d4e5f611223344556677889900 01 0000"),
            EcpError::NoFilters,
        ),
        (
            format!("{mgr} 0621 00 0012"),
            EcpError::Tlv(LldpError::TruncatedValue {
                tlv: "associate",
                at: 18,
                len: 33,
                left: 3,
            }),
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(VdpPdu::parse(&hex(&bytes)), Err(want.clone()), "{want}");
    }
    assert_eq!(
        EcpHeader::parse(&[0x10]),
        Err(EcpError::Truncated { len: 1 })
    );
    assert_eq!(
        EcpHeader::parse(&[0x20, 1, 0, 1]),
        Err(EcpError::Version(2))
    );
}

fn filter(format: FilterFormat) -> impl Strategy<Value = VsiFilter> {
    (
        any::<u32>(),
        any::<[u8; 6]>(),
        any::<bool>(),
        0u8..8,
        0u16..4096,
    )
        .prop_map(move |(g, m, ps, pcp, vid)| VsiFilter {
            group: matches!(format, FilterFormat::GroupVid | FilterFormat::GroupMacVid)
                .then_some(g),
            mac: matches!(format, FilterFormat::MacVid | FilterFormat::GroupMacVid)
                .then_some(MacAddr(m)),
            ps,
            pcp,
            vid,
        })
}

fn vsi() -> impl Strategy<Value = VsiTlv> {
    (
        prop_oneof![
            Just(FilterFormat::Vid),
            Just(FilterFormat::MacVid),
            Just(FilterFormat::GroupVid),
            Just(FilterFormat::GroupMacVid)
        ],
        prop_oneof![
            Just(VsiRequest::PreAssociate),
            Just(VsiRequest::PreAssociateWithRr),
            Just(VsiRequest::Associate),
            Just(VsiRequest::Deassociate)
        ],
        any::<u8>(),
        0u32..1 << 24,
        any::<u8>(),
        any::<[u8; 16]>(),
    )
        .prop_flat_map(|(format, request, status, type_id, type_version, id)| {
            proptest::collection::vec(filter(format), 1..5).prop_map(move |filters| VsiTlv {
                request,
                status,
                type_id,
                type_version,
                id_format: 5,
                id,
                format,
                filters,
            })
        })
}

proptest! {
    #[test]
    fn what_is_written_reads_back(
        manager_id in any::<[u8; 16]>(),
        vsis in proptest::collection::vec(vsi(), 1..4),
        seq in any::<u16>(),
    ) {
        let pdu = VdpPdu { manager_id, vsis, other_tlvs: 0 };
        let h = EcpHeader { op: EcpOp::Request, subtype: ULP_VDP, seq };
        let f = h.frame(NEAREST_CUSTOMER_BRIDGE, MacAddr([2, 0, 0, 0, 0, 1]), &pdu.to_bytes());
        let (back, payload) = EcpHeader::parse(&f[14..]).unwrap();
        prop_assert_eq!(back, h);
        prop_assert_eq!(VdpPdu::parse(payload).unwrap(), pdu);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        if let Ok((_, p)) = EcpHeader::parse(&bytes) {
            let _ = VdpPdu::parse(p);
        }
        let _ = VdpPdu::parse(&bytes);
    }

    #[test]
    fn damaged_pdus_never_panic(vsis in proptest::collection::vec(vsi(), 1..3), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut b = VdpPdu { manager_id: [1; 16], vsis, other_tlvs: 0 }.to_bytes();
        let i = at.index(b.len());
        if cut { b.truncate(i); } else { b[i] = byte; }
        let _ = VdpPdu::parse(&b);
    }
}
