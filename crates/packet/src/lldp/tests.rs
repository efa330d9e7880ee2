//! LLDPDUs and EVB TLVs: lldpad's own bytes (captured from Debian's lldpad
//! 1.1 running evb22 in a namespace), round trips, and hostile input.

use super::*;
use crate::test_hex as hex;
use proptest::prelude::*;

/// lldpad as bridge (evbrrcap=yes), before it hears a station: the whole frame.
const LLDPAD_BRIDGE: &str = "0180c2000000 020000000b01 88cc 0207 04020000000b01 0407 03020000000b01
    0602 0078 fe09 0080c2 0d 02 00 6e 54 14 0000 0000000000000000000000";

#[test]
fn reads_lldpads_bridge_lldpdu() {
    let f = hex(LLDPAD_BRIDGE);
    assert_eq!(f.len(), 60);
    assert_eq!(MacAddr::from_slice(&f[..6]), NEAREST_CUSTOMER_BRIDGE);
    assert_eq!(u16::from_be_bytes([f[12], f[13]]), LLDP_ETHERTYPE);
    let du = Lldpdu::parse(&f[14..]).expect("lldpad's frame parses");
    let mac = MacAddr([2, 0, 0, 0, 0x0b, 1]);
    assert_eq!(du.chassis, LldpId::mac(4, mac));
    assert_eq!(du.port, LldpId::mac(3, mac));
    assert_eq!(du.chassis.display(), "02:00:00:00:0b:01");
    assert_eq!(du.ttl, 120);
    let evb = du.evb.expect("EVB TLV");
    assert_eq!(
        evb,
        EvbTlv {
            bgid: false,
            rrcap: true,
            rrctr: false,
            sgid: false,
            rrreq: false,
            rrstat: RrStatus::Off,
            retries: 3,
            rte: 14,
            mode: EvbMode::Bridge,
            rwd_remote: false,
            rwd: 20,
            rka_remote: false,
            rka: 20,
        }
    );
    // Written again, the frame is byte for byte lldpad's.
    assert_eq!(du.frame(NEAREST_CUSTOMER_BRIDGE, mac).unwrap(), f);
}

#[test]
fn reads_the_negotiation_as_lldpad_sends_it() {
    // (field bytes, what they say): station alone, bridge granting, station granted.
    let cases = [
        (
            "00 07 6e 94 14",
            false,
            true,
            RrStatus::Unknown,
            EvbMode::Station,
            false,
        ),
        (
            "03 07 6e 74 34",
            true,
            true,
            RrStatus::Unknown,
            EvbMode::Bridge,
            true,
        ),
        (
            "03 05 6e b4 34",
            true,
            true,
            RrStatus::On,
            EvbMode::Station,
            true,
        ),
    ];
    for (fields, rrctr, rrreq, rrstat, mode, remote) in cases {
        let v = hex(&format!("0080c2 0d {fields}"));
        let evb = EvbTlv::parse(&v).expect(fields);
        assert_eq!(evb.rrctr, rrctr, "{fields}");
        assert_eq!(evb.rrreq, rrreq, "{fields}");
        assert_eq!(evb.rrstat, rrstat, "{fields}");
        assert_eq!(evb.mode, mode, "{fields}");
        assert_eq!(
            (evb.rwd_remote, evb.rka_remote),
            (remote, remote),
            "{fields}"
        );
        assert_eq!((evb.retries, evb.rte, evb.rwd, evb.rka), (3, 14, 20, 20));
        assert_eq!(evb.to_bytes().to_vec(), v, "{fields}");
    }
}

#[test]
fn names_what_is_wrong() {
    let good = hex(LLDPAD_BRIDGE)[14..].to_vec();
    // (bytes, the error): each a way a peer's LLDPDU can be bad.
    let mut evb10 = good[..22].to_vec();
    evb10.extend(hex("fe0a 0080c2 0d 02 00 6e 54 14 00 0000"));
    let mut twice = good[..22].to_vec();
    twice.extend(hex("0a01 41 0a01 42 0000"));
    let cases: Vec<(Vec<u8>, LldpError)> = vec![
        (vec![], LldpError::TruncatedHeader { at: 0 }),
        (hex("02"), LldpError::TruncatedHeader { at: 0 }),
        (
            hex("0207 0402"),
            LldpError::TruncatedValue {
                tlv: "chassis ID",
                at: 0,
                len: 7,
                left: 2,
            },
        ),
        (
            hex("0403 07 6869"),
            LldpError::MandatoryOrder {
                expected: "chassis ID",
                found: 2,
            },
        ),
        (
            hex("0201 04"),
            LldpError::BadLength {
                tlv: "chassis ID",
                len: 1,
                expected: "2 to 256",
            },
        ),
        (
            hex("0202 0441 0402 0741 0603 000078"),
            LldpError::BadLength {
                tlv: "TTL",
                len: 3,
                expected: "2",
            },
        ),
        (
            evb10,
            LldpError::BadLength {
                tlv: "EVB",
                len: 10,
                expected: "9",
            },
        ),
        (twice, LldpError::Duplicate { tlv: "system name" }),
    ];
    for (bytes, want) in cases {
        assert_eq!(Lldpdu::parse(&bytes), Err(want.clone()), "{want}");
    }
}

#[test]
fn management_addresses_and_text() {
    let mut du = Lldpdu::new(LldpId::local("host-a"), LldpId::local("uplink0"), 120);
    du.system_name = Some("host-a".into());
    du.port_description = Some("vepa switch s0 uplink".into());
    du.management.push(ManagementAddress {
        family: 1,
        address: vec![192, 0, 2, 7],
        if_subtype: 2,
        if_number: 12,
    });
    let f = du
        .frame(NEAREST_BRIDGE, MacAddr([2, 0, 0, 0, 0, 1]))
        .unwrap();
    let back = Lldpdu::parse(&f[14..]).unwrap();
    assert_eq!(back, du);
    assert_eq!(back.management[0].display(), "192.0.2.7");
    assert_eq!(back.port.display(), "uplink0");
    du.system_name = Some("x".repeat(256));
    assert!(matches!(
        du.frame(NEAREST_BRIDGE, MacAddr::ZERO),
        Err(LldpError::TooLong {
            field: "system name",
            ..
        })
    ));
}

fn id() -> impl Strategy<Value = LldpId> {
    (1u8..8, proptest::collection::vec(any::<u8>(), 1..40))
        .prop_map(|(subtype, id)| LldpId { subtype, id })
}

fn evb() -> impl Strategy<Value = EvbTlv> {
    (
        any::<[bool; 7]>(),
        0u8..4,
        0u8..8,
        0u8..32,
        0u8..4,
        0u8..32,
        0u8..32,
    )
        .prop_map(|(b, st, retries, rte, mode, rwd, rka)| EvbTlv {
            bgid: b[0],
            rrcap: b[1],
            rrctr: b[2],
            sgid: b[3],
            rrreq: b[4],
            rrstat: [
                RrStatus::Off,
                RrStatus::On,
                RrStatus::Reserved,
                RrStatus::Unknown,
            ][st as usize],
            retries,
            rte,
            mode: [
                EvbMode::NotSupported,
                EvbMode::Bridge,
                EvbMode::Station,
                EvbMode::Reserved,
            ][mode as usize],
            rwd_remote: b[5],
            rwd,
            rka_remote: b[6],
            rka,
        })
}

fn lldpdu() -> impl Strategy<Value = Lldpdu> {
    (
        id(),
        id(),
        any::<u16>(),
        proptest::option::of("[a-z0-9 ._-]{0,60}"),
        proptest::option::of("[a-z0-9 ._-]{0,60}"),
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..17), any::<u32>()),
            0..3,
        ),
        proptest::option::of(evb()),
    )
        .prop_map(|(chassis, port, ttl, pd, sn, mgmt, evb)| {
            let mut du = Lldpdu::new(chassis, port, ttl);
            du.port_description = pd;
            du.system_name = sn;
            du.management = mgmt
                .into_iter()
                .map(|(address, if_number)| ManagementAddress {
                    family: 1,
                    address,
                    if_subtype: 2,
                    if_number,
                })
                .collect();
            du.evb = evb;
            du
        })
}

proptest! {
    #[test]
    fn what_is_written_reads_back(du in lldpdu()) {
        let f = du.frame(NEAREST_CUSTOMER_BRIDGE, MacAddr([2, 0, 0, 0, 0, 9])).unwrap();
        prop_assert!(f.len() >= 60);
        prop_assert_eq!(Lldpdu::parse(&f[14..]).unwrap(), du);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = Lldpdu::parse(&bytes);
        let _ = EvbTlv::parse(&bytes);
        for t in Tlvs::new(&bytes) {
            if t.is_err() { break; }
        }
    }

    /// A valid LLDPDU with one byte changed or cut short: an error or a
    /// value, never a panic.
    #[test]
    fn damaged_lldpdus_never_panic(du in lldpdu(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut b = Vec::new();
        du.write(&mut b).unwrap();
        let i = at.index(b.len());
        if cut { b.truncate(i); } else { b[i] = byte; }
        let _ = Lldpdu::parse(&b);
    }
}
