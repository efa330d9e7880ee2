//! VXLAN against the Linux kernel's own: vepa in one namespace ("host 1")
//! with a VM behind it and a vxlan port; a second namespace ("host 2")
//! with a kernel `vxlan` device (VNI 42, dstport 4789) in a Linux bridge
//! with a VM behind it; a veth between the two hosts is the underlay
//! (192.0.2.0/24, a documentation range, inside the test's namespaces).
//! Through `vepa run` and through a daemon in host 1 (`vepa tunnel show`).

use vepa_itest::daemon::Daemon;
use vepa_itest::{
    arp_request, arp_requests_for, in_netns, ns_sh, ping, require_root, send_frames, sh,
    tcp_transfer, uid, wait_reachable, Capture, Netns, Vepa,
};

/// The underlay: host addresses (1, 2), their prefix length and `ip addr`
/// flags, and the inner MTU the kernel's vxlan leaves over it.
struct Underlay {
    addrs: [&'static str; 2],
    prefix: u8,
    flags: &'static str,
    inner_mtu: u32,
}

const V4: Underlay = Underlay {
    addrs: ["192.0.2.1", "192.0.2.2"],
    prefix: 24,
    flags: "",
    inner_mtu: 1450,
};

/// 2001:db8::/64, a documentation range; no duplicate address detection
/// to wait for. 56 bytes of IPv6, UDP and VXLAN headers: inner MTU 1430.
const V6: Underlay = Underlay {
    addrs: ["2001:db8::1", "2001:db8::2"],
    prefix: 64,
    flags: " nodad",
    inner_mtu: 1430,
};

/// Host 1 (for vepa) and host 2 (kernel vxlan VNI 42 in a bridge, VM 2
/// behind it at `vm2_ip`), joined by the underlay veth. Namespace names
/// start with `tag`.
fn two_hosts_on(id: &str, tag: char, u: &Underlay, vm2_ip: &str) -> (Netns, Netns, Netns, Netns) {
    let (h1, h2) = (
        Netns::new(&format!("{tag}h1{id}")),
        Netns::new(&format!("{tag}h2{id}")),
    );
    let (vm1, vm2) = (
        Netns::new(&format!("{tag}v1{id}")),
        Netns::new(&format!("{tag}v2{id}")),
    );
    sh(&[
        "ip", "-n", &h1.name, "link", "add", "und", "type", "veth", "peer", "name", "und", "netns",
        &h2.name,
    ]);
    let ([a1, a2], len, flags, mtu) = (u.addrs, u.prefix, u.flags, u.inner_mtu);
    ns_sh(
        &h1.name,
        &format!("ip addr add {a1}/{len} dev und{flags} && ip link set und up"),
    );
    ns_sh(
        &h2.name,
        &format!(
            "ip addr add {a2}/{len} dev und{flags} && ip link set und up && \
             ip link add vx42 type vxlan id 42 dstport 4789 local {a2} dev und && \
             bridge fdb append 00:00:00:00:00:00 dev vx42 dst {a1} && \
             ip link add br0 type bridge && ip link set vx42 master br0 && \
             ip link set vx42 up && ip link set br0 up"
        ),
    );
    sh(&[
        "ip", "-n", &vm2.name, "link", "add", "eth0", "type", "veth", "peer", "name", "vm2",
        "netns", &h2.name,
    ]);
    ns_sh(
        &h2.name,
        &format!("ip link set vm2 mtu {mtu} master br0 && ip link set vm2 up"),
    );
    ns_sh(
        &vm2.name,
        &format!(
            "ip link set eth0 mtu {mtu} && ip addr add {vm2_ip}/24 dev eth0 && ip link set eth0 up"
        ),
    );
    (h1, h2, vm1, vm2)
}

fn two_hosts(id: &str) -> (Netns, Netns, Netns, Netns) {
    two_hosts_on(id, 'x', &V4, "10.80.0.2")
}

/// Host 1's switch: VM 1 (10.80.0.1, MTU 1450) and the tunnel to host 2.
fn host1_topology(id: &str, vm1: &Netns) -> String {
    host1_topology_on(id, 'x', &V4, vm1, "10.80.0.1")
}

/// Host 1's switch over underlay `u`: the VM (port `{tag}p{id}`, MTU the
/// tunnel's) and the tunnel (`{tag}x{id}` for `z`, `vx{id}` for `x`).
fn host1_topology_on(id: &str, tag: char, u: &Underlay, vm1: &Netns, vm_ip: &str) -> String {
    let tunnel = if tag == 'x' {
        format!("vx{id}")
    } else {
        format!("{tag}x{id}")
    };
    format!(
        r#"
[[switch]]
name = "s{id}"
[[switch.port]]
name = "{tag}p{id}"
type = "veth"
netns = "{vm}"
address = ["{vm_ip}/24"]
mtu = {mtu}
[[switch.port]]
name = "{tunnel}"
type = "vxlan"
vni = 42
local = "{local}"
remote = ["{remote}"]
"#,
        vm = vm1.name,
        mtu = u.inner_mtu,
        local = u.addrs[0],
        remote = u.addrs[1],
    )
}

/// `len` bytes of TCP from `a` to `b` (on `port`) and back (on `port` + 1),
/// each arriving whole and intact; a namespace and its address each.
fn tcp_both_ways(a: (&str, &str), b: (&str, &str), port: u16, len: u64) {
    assert_eq!(
        tcp_transfer(a.0, b.0, b.1, port, len),
        len,
        "{} -> {}",
        a.1,
        b.1
    );
    assert_eq!(
        tcp_transfer(b.0, a.0, a.1, port + 1, len),
        len,
        "{} -> {}",
        b.1,
        a.1
    );
}
#[test]
fn vxlan_interoperates_with_the_kernel() {
    interoperates(&[]);
}

/// The same with the VM's veth an AF_XDP port (`--xdp`).
#[test]
fn vxlan_interoperates_with_the_kernel_over_af_xdp_ports() {
    interoperates(&["--xdp"]);
}

fn interoperates(args: &[&str]) {
    require_root();
    let id = uid();
    let (h1, h2, vm1, vm2) = two_hosts(&id);
    let port = format!("xp{id}");
    let topo = host1_topology(&id, &vm1);
    let v = Vepa::start_with(Some(&h1.name), args, &topo, std::slice::from_ref(&port));
    if !args.is_empty() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !String::from_utf8_lossy(
            &sh(&["ip", "-n", &h1.name, "link", "show", "dev", &port]).stdout,
        )
        .contains("vepa_xsk")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{port}: no XDP program with {args:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    assert!(
        wait_reachable(&vm1.name, "10.80.0.2"),
        "VM behind vepa reaches the kernel's VM"
    );
    assert!(ping(&vm2.name, "10.80.0.1"), "and back");
    // TCP across (GSO frames segmented before encapsulation), byte-exact.
    let len = 8 << 20;
    tcp_both_ways(
        (&vm1.name, "10.80.0.1"),
        (&vm2.name, "10.80.0.2"),
        5201,
        len,
    );
    // A broadcast crosses once.
    let cap = Capture::start(&vm2.name, "eth0");
    let mac1 = vm1.mac("eth0");
    send_frames(
        &vm1.name,
        "eth0",
        vec![arp_request(mac1, [10, 80, 0, 1], [10, 80, 0, 99], None)],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let seen = cap.finish();
    assert_eq!(
        arp_requests_for(&seen, [10, 80, 0, 99]).len(),
        1,
        "one copy of the broadcast"
    );
    // The kernel learned vepa's VM against vepa's VTEP.
    let out = String::from_utf8_lossy(
        &sh(&["bridge", "-n", &h2.name, "fdb", "show", "dev", "vx42"]).stdout,
    )
    .into_owned();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&mac1.to_string()) && l.contains("dst 192.0.2.1")),
        "{out}"
    );
    let stats = v.stop();
    let rx = vepa_itest::counter(&stats, &format!("s{id}"), &format!("vx{id}"), "rx_bytes");
    let tx = vepa_itest::counter(&stats, &format!("s{id}"), &format!("vx{id}"), "tx_bytes");
    assert!(
        rx > len && tx > len,
        "both transfers crossed the tunnel: {stats}"
    );
}

#[test]
fn tunnels_show_what_they_learned_and_count_bad_packets() {
    require_root();
    let id = uid();
    let (h1, h2, vm1, vm2) = two_hosts(&id);
    let mut d = Daemon::start_in(&h1.name);
    d.links = Vec::new();
    let file = d.dir.path().join("vx.toml");
    std::fs::write(&file, host1_topology(&id, &vm1)).expect("write");
    d.ok(&["apply", "-f", file.to_str().expect("path")]);
    assert!(wait_reachable(&vm1.name, "10.80.0.2"));
    // VM 2's MAC is learned behind host 2's VTEP.
    let mac2 = vm2.mac("eth0").to_string();
    let t = d.json(&["tunnel", "show"]);
    let learned = t[0]["learned"].as_array().cloned().unwrap_or_default();
    assert!(
        learned
            .iter()
            .any(|l| l["mac"] == mac2.as_str() && l["vtep"] == "192.0.2.2"),
        "{t}"
    );
    assert_eq!(
        (t[0]["vni"].as_u64(), t[0]["max_inner_frame"].as_u64()),
        (Some(42), Some(1464))
    );
    let ports = d.ok(&["port", "show"]);
    assert!(
        ports.contains("1500 (inner 1450)"),
        "the MTU shown: {ports}"
    );
    // A bad header, another VNI, a cut inner frame: counted and dropped.
    in_netns(&h2.name, || {
        let u = std::net::UdpSocket::bind("192.0.2.2:0").expect("udp");
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06]);
        frame.resize(60, 0);
        for (flags, vni, body) in [
            (0u8, 42u8, &frame[..]),
            (8, 7, &frame[..]),
            (8, 42, &frame[..6]),
        ] {
            let mut p = vec![flags, 0, 0, 0, 0, 0, vni, 0];
            p.extend_from_slice(body);
            u.send_to(&p, "192.0.2.1:4789").expect("send");
        }
    })
    .join()
    .expect("sender");
    // A good packet from an address that is no VTEP of the tunnel.
    ns_sh(&h2.name, "ip addr add 192.0.2.3/24 dev und");
    in_netns(&h2.name, || {
        let u = std::net::UdpSocket::bind("192.0.2.3:0").expect("udp");
        let mut p = vec![8, 0, 0, 0, 0, 0, 42, 0];
        p.extend_from_slice(&[0xff; 6]);
        p.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06]);
        p.resize(8 + 60, 0);
        u.send_to(&p, "192.0.2.1:4789").expect("send");
    })
    .join()
    .expect("stranger");
    let counted = (0..30).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let c = &d.json(&["tunnel", "show"])[0]["counters"];
        c["rx_bad_header"] == 1
            && c["rx_unknown_vni"] == 1
            && c["rx_truncated"] == 1
            && c["rx_unknown_vtep"] == 1
    });
    assert!(counted, "{}", d.json(&["tunnel", "show"]));
    assert!(ping(&vm1.name, "10.80.0.2"), "still forwarding");
    // Bad topology input names the field.
    let mut bad = host1_topology(&id, &vm1).replace("vni = 42", "vni = 16777216");
    std::fs::write(&file, &bad).expect("write");
    let err = d.fails(&["apply", "-f", file.to_str().expect("path")]);
    assert!(err.contains("vni") && err.contains("16777215"), "{err}");
    bad = host1_topology(&id, &vm1).replace("remote = [\"192.0.2.2\"]", "remote = [\"fd00::2\"]");
    std::fs::write(&file, &bad).expect("write");
    let err = d.fails(&["apply", "-f", file.to_str().expect("path")]);
    assert!(err.contains("remote"), "{err}");
}

/// A trunk's VLANs each in their own VNI, against two kernel vxlan devices
/// (VNI 1010 and 1020) in two bridges: each VLAN reaches its own VNI's VM
/// only, though all four VMs share one subnet.
#[test]
fn vlans_map_to_vnis_against_the_kernel() {
    require_root();
    let id = uid();
    let (h1, h2) = (
        Netns::new(&format!("yh1{id}")),
        Netns::new(&format!("yh2{id}")),
    );
    let vms: Vec<Netns> = (1..=4).map(|i| Netns::new(&format!("yv{i}{id}"))).collect();
    sh(&[
        "ip", "-n", &h1.name, "link", "add", "und", "type", "veth", "peer", "name", "und", "netns",
        &h2.name,
    ]);
    ns_sh(
        &h1.name,
        "ip addr add 192.0.2.1/24 dev und && ip link set und up",
    );
    ns_sh(
        &h2.name,
        "ip addr add 192.0.2.2/24 dev und && ip link set und up",
    );
    // Host 2: VNI 1010 → VM 3, VNI 1020 → VM 4.
    for (vni, vm, ip) in [(1010, &vms[2], "10.82.0.3"), (1020, &vms[3], "10.82.0.4")] {
        ns_sh(
            &h2.name,
            &format!(
                "ip link add vx{vni} type vxlan id {vni} dstport 4789 local 192.0.2.2 dev und && \
                 bridge fdb append 00:00:00:00:00:00 dev vx{vni} dst 192.0.2.1 && \
                 ip link add br{vni} type bridge && ip link set vx{vni} master br{vni} && \
                 ip link set vx{vni} up && ip link set br{vni} up"
            ),
        );
        sh(&[
            "ip",
            "-n",
            &vm.name,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            &format!("v{vni}"),
            "netns",
            &h2.name,
        ]);
        ns_sh(
            &h2.name,
            &format!("ip link set v{vni} mtu 1450 master br{vni} && ip link set v{vni} up"),
        );
        ns_sh(
            &vm.name,
            &format!(
                "ip link set eth0 mtu 1450 && ip addr add {ip}/24 dev eth0 && ip link set eth0 up"
            ),
        );
    }
    // Host 1: VM 1 in VLAN 10, VM 2 in VLAN 20, the trunk tunnel.
    let topo = format!(
        r#"
[[switch]]
name = "t{id}"
[[switch.port]]
name = "y1{id}"
type = "veth"
netns = "{n1}"
address = ["10.82.0.1/24"]
mtu = 1450
vlan = 10
[[switch.port]]
name = "y2{id}"
type = "veth"
netns = "{n2}"
address = ["10.82.0.2/24"]
mtu = 1450
vlan = 20
[[switch.port]]
name = "yx{id}"
type = "vxlan"
local = "192.0.2.1"
remote = ["192.0.2.2"]
trunk = [10, 20]
vlan_vni = ["10:1010", "20:1020"]
"#,
        n1 = vms[0].name,
        n2 = vms[1].name,
    );
    let _v = Vepa::start_in(
        Some(&h1.name),
        &topo,
        &[format!("y1{id}"), format!("y2{id}")],
    );
    assert!(
        wait_reachable(&vms[0].name, "10.82.0.3"),
        "VLAN 10 reaches VNI 1010"
    );
    assert!(
        wait_reachable(&vms[1].name, "10.82.0.4"),
        "VLAN 20 reaches VNI 1020"
    );
    assert!(
        !ping(&vms[0].name, "10.82.0.4"),
        "VLAN 10 does not reach VNI 1020"
    );
    assert!(
        !ping(&vms[1].name, "10.82.0.3"),
        "VLAN 20 does not reach VNI 1010"
    );
    let len = 4 << 20;
    assert_eq!(
        tcp_transfer(&vms[0].name, &vms[2].name, "10.82.0.3", 5203, len),
        len
    );
    assert_eq!(
        tcp_transfer(&vms[3].name, &vms[1].name, "10.82.0.2", 5204, len),
        len
    );
}

/// An IPv6 underlay (2001:db8::/64, a documentation range): vepa against a
/// kernel vxlan over IPv6, whose inner IP MTU is 1430 (56 bytes of IPv6,
/// UDP and VXLAN headers on a 1500-byte underlay).
#[test]
fn vxlan_over_an_ipv6_underlay() {
    require_root();
    let id = uid();
    let (h1, h2, vm1, vm2) = two_hosts_on(&id, 'z', &V6, "10.83.0.2");
    let topo = host1_topology_on(&id, 'z', &V6, &vm1, "10.83.0.1");
    let v = Vepa::start_in(Some(&h1.name), &topo, &[format!("zp{id}")]);
    assert!(wait_reachable(&vm1.name, "10.83.0.2"), "over IPv6");
    assert!(ping(&vm2.name, "10.83.0.1"), "and back");
    let len = 4 << 20;
    tcp_both_ways(
        (&vm1.name, "10.83.0.1"),
        (&vm2.name, "10.83.0.2"),
        5203,
        len,
    );
    let out = String::from_utf8_lossy(
        &sh(&["bridge", "-n", &h2.name, "fdb", "show", "dev", "vx42"]).stdout,
    )
    .into_owned();
    let mac1 = vm1.mac("eth0").to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&mac1) && l.contains("dst 2001:db8::1")),
        "{out}"
    );
    let stats = v.stop();
    let tx = vepa_itest::counter(&stats, &format!("s{id}"), &format!("zx{id}"), "tx_bytes");
    assert!(tx > len, "{stats}");
}
