//! 802.1Q in userspace (this kernel has no VLAN devices): two access VLANs on
//! one switch do not see each other's broadcasts or reach each other; a
//! trunk port carries both, tagged, in both directions.

use std::time::Duration;
use vepa_itest::{
    arp_request, arp_requests_for, counter, ping, require_root, send_frames, uid, Capture, Netns,
    Vepa,
};
use vepa_packet::MacAddr;

#[test]
fn access_vlans_are_apart_and_the_trunk_carries_both_tagged() {
    require_root();
    let id = uid();
    let names = ["a1", "a2", "b1", "b2", "tr"];
    let ns: Vec<Netns> = names
        .iter()
        .map(|n| Netns::new(&format!("vl{id}{n}")))
        .collect();
    let ports: Vec<String> = names.iter().map(|n| format!("l{id}{n}")).collect();
    let vlans = [
        "vlan = 10",
        "vlan = 10",
        "vlan = 20",
        "vlan = 20",
        "trunk = [10, 20]",
    ];
    let mut topo = String::from("[[switch]]\nname = \"s\"\nmode = \"veb\"\n");
    for i in 0..5 {
        let addr = if i < 4 {
            format!("address = [\"10.0.0.{}/24\"]\n", i + 1)
        } else {
            String::new()
        };
        topo.push_str(&format!(
            "[[switch.port]]\nname = \"{}\"\ntype = \"veth\"\nnetns = \"{}\"\n{}\n{addr}",
            ports[i], ns[i].name, vlans[i]
        ));
    }
    let vepa = Vepa::start(&topo, &ports);
    let (a1, a2, b1, b2, tr) = (
        &ns[0].name,
        &ns[1].name,
        &ns[2].name,
        &ns[3].name,
        &ns[4].name,
    );

    assert!(ping(a1, "10.0.0.2"), "a1 reaches a2 in VLAN 10");
    assert!(ping(b1, "10.0.0.4"), "b1 reaches b2 in VLAN 20");
    assert!(!ping(a1, "10.0.0.3"), "a1 must not reach b1 across VLANs");
    assert!(!ping(b2, "10.0.0.2"), "b2 must not reach a2 across VLANs");

    // Broadcasts from the access ports.
    let watch = [a1, a2, b1, b2, tr];
    let caps: Vec<Capture> = watch.iter().map(|n| Capture::start(n, "eth0")).collect();
    std::thread::sleep(Duration::from_millis(200));
    send_frames(
        a1,
        "eth0",
        vec![arp_request(
            ns[0].mac("eth0"),
            [10, 0, 0, 1],
            [10, 0, 0, 201],
            None,
        )],
    );
    send_frames(
        b1,
        "eth0",
        vec![arp_request(
            ns[2].mac("eth0"),
            [10, 0, 0, 3],
            [10, 0, 0, 202],
            None,
        )],
    );
    // And tagged ones from the trunk, one per VLAN and one for a VLAN it does not carry.
    let far: MacAddr = "02:00:00:00:77:01".parse().unwrap();
    send_frames(
        tr,
        "eth0",
        vec![
            arp_request(far, [10, 0, 0, 9], [10, 0, 0, 203], Some(10)),
            arp_request(far, [10, 0, 0, 9], [10, 0, 0, 204], Some(20)),
            arp_request(far, [10, 0, 0, 9], [10, 0, 0, 205], Some(30)),
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let got: Vec<Vec<Vec<u8>>> = caps.into_iter().map(|c| c.finish()).collect();
    let seen = |host: usize, target: u8| arp_requests_for(&got[host], [10, 0, 0, target]);

    // From a1 (VLAN 10): a2 untagged, the trunk tagged 10, VLAN 20 nothing.
    assert_eq!(seen(1, 201), vec![None]);
    assert_eq!(seen(2, 201), vec![]);
    assert_eq!(seen(3, 201), vec![]);
    assert_eq!(seen(4, 201), vec![Some(10)], "trunk carries VLAN 10 tagged");
    // From b1 (VLAN 20).
    assert_eq!(seen(3, 202), vec![None]);
    assert_eq!(seen(1, 202), vec![]);
    assert_eq!(seen(4, 202), vec![Some(20)], "trunk carries VLAN 20 tagged");
    // From the trunk: untagged onto the access ports of that VLAN only.
    assert_eq!((seen(0, 203), seen(1, 203)), (vec![None], vec![None]));
    assert_eq!((seen(2, 203), seen(3, 203)), (vec![], vec![]));
    assert_eq!((seen(2, 204), seen(3, 204)), (vec![None], vec![None]));
    assert_eq!((seen(0, 204), seen(1, 204)), (vec![], vec![]));
    for h in 0..4 {
        assert_eq!(seen(h, 205), vec![], "VLAN 30 is not on the trunk");
    }

    let stats = vepa.stop();
    assert!(
        counter(&stats, "s", &ports[4], "vlan_ingress") >= 1,
        "VLAN 30 counted at the trunk: {stats}"
    );
}
