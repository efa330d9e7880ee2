//! (The tests bind fixed UDP ports below 32768, outside the kernel's
//! ephemeral range, so no other test's client socket can hold one.)

use super::*;
use std::time::{Duration, Instant};

fn port(local: &str, port: u16, remotes: &[&str], vni: u32) -> VxlanPort {
    VxlanPort::open(VxlanConfig {
        name: "vx".into(),
        vni,
        local: local.parse().unwrap(),
        port,
        remotes: remotes.iter().map(|r| r.parse().unwrap()).collect(),
        underlay_mtu: 1500,
        vlan_vni: Vec::new(),
        reflect: false,
        arp_suppress: false,
    })
    .unwrap()
}

fn frame(dst: [u8; 6], src: [u8; 6], len: usize) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(len, 0xab);
    f
}

fn wait_recv(p: &VxlanPort) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        if let Some((_, f)) = p.recv(&mut buf).unwrap() {
            return Some(f.to_vec());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn floods_learns_and_refuses_what_is_not_its_own() {
    // Two VTEPs on loopback addresses, same UDP port.
    let a = port("127.0.0.1", 27891, &["127.0.0.2"], 42);
    let b = port("127.0.0.2", 27891, &["127.0.0.1"], 42);
    let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
    // Broadcast from A's side: flooded to B.
    a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 60))
        .unwrap();
    assert_eq!(wait_recv(&b).unwrap(), frame([0xff; 6], ma, 60));
    assert_eq!(
        b.learned(),
        vec![(MacAddr(ma), "127.0.0.1".parse().unwrap())]
    );
    // B answers by unicast to the learned VTEP.
    b.send(&VirtioNetHdr::default(), &frame(ma, mb, 100))
        .unwrap();
    assert_eq!(wait_recv(&a).unwrap(), frame(ma, mb, 100));
    assert_eq!(b.counters.tx_flooded.load(Ordering::Relaxed), 0);
    // Too big for a 1500-byte underlay: dropped and counted.
    a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 1465))
        .unwrap();
    assert_eq!(a.counters.tx_too_big.load(Ordering::Relaxed), 1);
    // Another VNI, a bad header, a cut frame: counted, not delivered.
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = "127.0.0.2:27891";
    let mut other = vec![FLAG_VNI, 0, 0, 0, 0, 0, 7, 0];
    other.extend_from_slice(&frame(mb, ma, 60));
    raw.send_to(&other, to).unwrap();
    let mut bad = other.clone();
    bad[0] = 0;
    raw.send_to(&bad, to).unwrap();
    raw.send_to(&[FLAG_VNI, 0, 0, 0, 0, 0, 42, 0, 1, 2, 3], to)
        .unwrap();
    assert!(wait_recv(&b).is_none());
    assert_eq!(b.counters.rx_unknown_vni.load(Ordering::Relaxed), 1);
    assert_eq!(b.counters.rx_bad_header.load(Ordering::Relaxed), 1);
    assert_eq!(b.counters.rx_truncated.load(Ordering::Relaxed), 1);
}

#[test]
fn super_frames_leave_as_wire_sized_datagrams() {
    use vepa_packet::virtio::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
    let a = port("127.0.0.1", 27892, &["127.0.0.3"], 9);
    let b = port("127.0.0.3", 27892, &["127.0.0.1"], 9);
    let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
    let payload = 10_000usize;
    let mut tcp = vec![
        0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];
    tcp.extend((0..payload).map(|i| i as u8));
    let mut f = Vec::new();
    vepa_packet::ip::write_ethernet(&mut f, MacAddr(mb), MacAddr(ma), 0x0800);
    let (src, dst) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    vepa_packet::ip::push_ipv4(&mut f, src, dst, 6, 64, 1, &tcp);
    let hdr = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1398,
        csum_start: 34,
        csum_offset: 16,
    };
    a.send(&hdr, &f).unwrap();
    // On the wire: datagrams of one inner segment each (one UDP GSO send).
    // The receiver reads them coalesced and joins the segments back into
    // one super-frame with the sender's segment size.
    let mut got = Vec::new();
    let mut buf = vec![0u8; crate::MAX_FRAME + 4];
    let deadline = Instant::now() + Duration::from_secs(2);
    while got.len() < payload && Instant::now() < deadline {
        let Some((vnet, x)) = b.recv(&mut buf).unwrap() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if vnet.is_gso() {
            assert_eq!(
                (vnet.gso_type, vnet.gso_size),
                (VIRTIO_NET_HDR_GSO_TCPV4, 1398)
            );
            let total = u16::from_be_bytes([x[16], x[17]]) as usize;
            assert_eq!(total, x.len() - 14, "IP length of the joined frame");
            assert_eq!(checksum::finish(checksum::sum_words(0, &x[14..34])), 0);
        } else {
            assert!(x.len() <= b.config().max_inner(), "wire-sized");
        }
        got.extend_from_slice(&x[54..]);
    }
    assert_eq!(
        got,
        (0..payload).map(|i| i as u8).collect::<Vec<_>>(),
        "the stream, in order"
    );
    assert!(b.counters.rx_coalesced.load(Ordering::Relaxed) > 1);
}

#[test]
fn vlans_map_to_vnis_and_back() {
    let mapped = |local: &str, vid: u16| {
        VxlanPort::open(VxlanConfig {
            name: "vx".into(),
            vni: 0,
            local: local.parse().unwrap(),
            port: 27893,
            remotes: vec![if local == "127.0.0.1" {
                "127.0.0.4"
            } else {
                "127.0.0.1"
            }
            .parse()
            .unwrap()],
            underlay_mtu: 1500,
            vlan_vni: vec![(vid, 1010)],
            reflect: false,
            arp_suppress: false,
        })
        .unwrap()
    };
    // VLAN 10 here and VLAN 30 there are both VNI 1010.
    let (a, b) = (mapped("127.0.0.1", 10), mapped("127.0.0.4", 30));
    let plain = frame([0xff; 6], [2, 0, 0, 0, 0, 1], 60);
    let tagged = |vid: u16| {
        let mut f = plain.clone();
        f.splice(12..12, [0x81, 0x00, 0, vid as u8]);
        f
    };
    a.send(&VirtioNetHdr::default(), &tagged(10)).unwrap();
    assert_eq!(
        wait_recv(&b).unwrap(),
        tagged(30),
        "tag off at one end, the other's on at the other"
    );
    // Untagged, or of an unmapped VLAN: not sent.
    a.send(&VirtioNetHdr::default(), &plain).unwrap();
    a.send(&VirtioNetHdr::default(), &tagged(20)).unwrap();
    assert_eq!(a.counters.tx_no_vni.load(Ordering::Relaxed), 2);
    assert!(wait_recv(&b).is_none());
}

/// A fabric port: members come from the control plane; strangers are not
/// heard; an isolating port refuses members; published MACs go straight
/// to their VTEP; a VTEP that leaves takes what was learned behind it.
#[test]
fn fabric_members_are_heard_and_strangers_are_not() {
    let a = port("127.0.0.3", 27894, &[], 100);
    let b = port("127.0.0.4", 27894, &[], 100);
    let c = port("127.0.0.5", 27894, &[], 100);
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let (ma, mb) = ([2, 0, 0, 0, 1, 0xa], [2, 0, 0, 0, 1, 0xb]);
    // Nobody known yet: A floods to no one; B does not hear A.
    a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 60))
        .unwrap();
    assert!(wait_recv(&b).is_none());
    b.set_fabric(Fabric {
        members: vec![ip("127.0.0.3")],
        ..Fabric::default()
    });
    a.set_fabric(Fabric {
        members: vec![ip("127.0.0.4"), ip("127.0.0.5")],
        macs: [(MacAddr(mb), ip("127.0.0.4"))].into_iter().collect(),
        ..Fabric::default()
    });
    // A floods to both members; B hears it, C (A unknown to it) does not.
    a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 60))
        .unwrap();
    assert_eq!(wait_recv(&b).unwrap(), frame([0xff; 6], ma, 60));
    assert!(wait_recv(&c).is_none());
    assert_eq!(c.counters.rx_unknown_vtep.load(Ordering::Relaxed), 1);
    // A published MAC: unicast, not flooded.
    a.send(&VirtioNetHdr::default(), &frame(mb, ma, 80))
        .unwrap();
    assert_eq!(wait_recv(&b).unwrap(), frame(mb, ma, 80));
    assert_eq!(a.counters.tx_flooded.load(Ordering::Relaxed), 2);
    assert_eq!(b.learned(), vec![(MacAddr(ma), ip("127.0.0.3"))]);
    // Isolating: B refuses what its members send.
    b.set_fabric(Fabric {
        members: vec![ip("127.0.0.3")],
        isolate: true,
        ..Fabric::default()
    });
    a.send(&VirtioNetHdr::default(), &frame(mb, ma, 80))
        .unwrap();
    assert!(wait_recv(&b).is_none());
    assert_eq!(b.counters.rx_isolated.load(Ordering::Relaxed), 1);
    // A leaves B's fabric: what B learned behind A goes.
    b.set_fabric(Fabric::default());
    assert!(b.learned().is_empty());
}

/// A reflecting fabric port sends floods to its own VTEP too, and hears
/// itself: the frame comes back in, as from a hairpinning relay.
#[test]
fn a_reflecting_port_hears_itself() {
    let a = VxlanPort::open(VxlanConfig {
        name: "vx".into(),
        vni: 100,
        local: "127.0.0.6".parse().unwrap(),
        port: 27893,
        remotes: Vec::new(),
        underlay_mtu: 1500,
        vlan_vni: Vec::new(),
        reflect: true,
        arp_suppress: false,
    })
    .unwrap();
    let ma = [2, 0, 0, 0, 2, 0xa];
    a.send(&VirtioNetHdr::default(), &frame([0xff; 6], ma, 60))
        .unwrap();
    assert_eq!(wait_recv(&a).unwrap(), frame([0xff; 6], ma, 60));
    assert_eq!(
        a.learned(),
        vec![(MacAddr(ma), "127.0.0.6".parse().unwrap())]
    );
}

/// A coalesced read bigger than a batch: what does not fit stays pending
/// (for the forwarder to come back for without waiting on the socket),
/// and nothing is lost.
#[test]
fn a_read_bigger_than_a_batch_stays_pending() {
    let b = port("127.0.0.7", 27895, &["127.0.0.8"], 5);
    let raw = UdpSocket::bind("127.0.0.8:0").unwrap();
    // 60 VXLAN datagrams of one size, inner UDP (never joined), in one
    // UDP GSO send: a GRO socket takes them in one read.
    let mut inner = frame([2, 0, 0, 0, 3, 0xb], [2, 0, 0, 0, 3, 0xa], 14);
    inner.extend_from_slice(&[
        0x45, 0, 0, 100, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    inner.extend_from_slice(&[0, 1, 0, 2, 0, 80, 0, 0]);
    inner.resize(114, 7);
    let mut data = Vec::new();
    for _ in 0..60 {
        data.extend_from_slice(&[FLAG_VNI, 0, 0, 0, 0, 0, 5, 0]);
        data.extend_from_slice(&inner);
    }
    segment::send_segmented(&raw, "127.0.0.7:27895".parse().unwrap(), &data, 8 + 114).unwrap();
    let mut batch = crate::RxBatch::new(32);
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while got < 60 && Instant::now() < deadline {
        got += b.recv_batch(&mut batch).unwrap();
        if got == 32 {
            assert!(b.pending(), "the rest of the read waits");
        }
    }
    assert_eq!(got, 60);
    assert!(!b.pending());
}

/// ARP suppression: a request for a published address is answered by the
/// port itself (the reply comes in as from the owner's host); a
/// gratuitous ARP for that address is not answered but sent on.
#[test]
fn published_addresses_are_answered_and_announcements_go_out() {
    let a = VxlanPort::open(VxlanConfig {
        name: "vx".into(),
        vni: 6,
        local: "127.0.0.9".parse().unwrap(),
        port: 27896,
        remotes: Vec::new(),
        underlay_mtu: 1500,
        vlan_vni: Vec::new(),
        reflect: false,
        arp_suppress: true,
    })
    .unwrap();
    let owner = MacAddr([2, 0, 0, 0, 4, 0xb]);
    let vm = MacAddr([2, 0, 0, 0, 4, 0xa]);
    let far: IpAddr = "127.0.0.10".parse().unwrap();
    a.set_fabric(Fabric {
        members: vec![far],
        macs: [(owner, far)].into_iter().collect(),
        ips: [("10.0.0.5".parse().unwrap(), owner)].into_iter().collect(),
        ..Fabric::default()
    });
    let arp = |sender: [u8; 4], target: [u8; 4]| {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&vm.0);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&vepa_packet::ip::arp(
            1,
            vm,
            sender.into(),
            MacAddr([0; 6]),
            target.into(),
        ));
        f
    };
    a.send(&VirtioNetHdr::default(), &arp([10, 0, 0, 1], [10, 0, 0, 5]))
        .unwrap();
    let reply = wait_recv(&a).expect("answered here");
    assert_eq!((&reply[..6], &reply[6..12]), (&vm.0[..], &owner.0[..]));
    assert_eq!(&reply[20..22], &[0, 2], "an ARP reply");
    assert_eq!(&reply[28..32], &[10, 0, 0, 5]);
    assert_eq!(a.counters.tx_arp_suppressed.load(Ordering::Relaxed), 1);
    assert!(a.learned().is_empty(), "nothing learned behind itself");
    assert_eq!(a.snooped(), vec![("10.0.0.1".parse().unwrap(), vm)]);
    // Gratuitous ARP for the published address: flooded, not answered.
    a.send(&VirtioNetHdr::default(), &arp([10, 0, 0, 5], [10, 0, 0, 5]))
        .unwrap();
    assert!(wait_recv(&a).is_none());
    assert_eq!(a.counters.tx_arp_suppressed.load(Ordering::Relaxed), 1);
    assert_eq!(a.counters.tx_flooded.load(Ordering::Relaxed), 1);
}
