//! VXLAN against the Linux kernel's own: vepa in one namespace ("host 1")
//! with a VM behind it and a vxlan port; a second namespace ("host 2")
//! with a kernel `vxlan` device (VNI 42, dstport 4789) in a Linux bridge
//! with a VM behind it; a veth between the two hosts is the underlay
//! (192.0.2.0/24, a documentation range, inside the test's namespaces).

use std::process::Command;
use vepa_itest::{
    arp_request, arp_requests_for, ping, require_root, send_frames, sh, tcp_transfer, uid,
    wait_reachable, Capture, Netns, Vepa,
};

fn ns_sh(ns: &str, cmd: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", cmd])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn vxlan_interoperates_with_the_kernel() {
    require_root();
    let id = uid();
    let (h1, h2) = (
        Netns::new(&format!("xh1{id}")),
        Netns::new(&format!("xh2{id}")),
    );
    let (vm1, vm2) = (
        Netns::new(&format!("xv1{id}")),
        Netns::new(&format!("xv2{id}")),
    );
    // The underlay.
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
    // Host 2: kernel vxlan in a bridge, a VM behind it (inner MTU 1450).
    ns_sh(
        &h2.name,
        "ip link add vx42 type vxlan id 42 dstport 4789 local 192.0.2.2 dev und && \
         bridge fdb append 00:00:00:00:00:00 dev vx42 dst 192.0.2.1 && \
         ip link add br0 type bridge && ip link set vx42 master br0 && \
         ip link set vx42 up && ip link set br0 up",
    );
    sh(&[
        "ip", "-n", &vm2.name, "link", "add", "eth0", "type", "veth", "peer", "name", "vm2",
        "netns", &h2.name,
    ]);
    ns_sh(
        &h2.name,
        "ip link set vm2 mtu 1450 master br0 && ip link set vm2 up",
    );
    ns_sh(
        &vm2.name,
        "ip link set eth0 mtu 1450 && ip addr add 10.80.0.2/24 dev eth0 && ip link set eth0 up",
    );
    // Host 1: vepa, a VM and the tunnel.
    let port = format!("xp{id}");
    let topo = format!(
        r#"
[[switch]]
name = "s{id}"
[[switch.port]]
name = "{port}"
type = "veth"
netns = "{vm}"
address = ["10.80.0.1/24"]
mtu = 1450
[[switch.port]]
name = "vx{id}"
type = "vxlan"
vni = 42
local = "192.0.2.1"
remote = ["192.0.2.2"]
"#,
        vm = vm1.name
    );
    let v = Vepa::start_in(Some(&h1.name), &topo, std::slice::from_ref(&port));
    assert!(
        wait_reachable(&vm1.name, "10.80.0.2"),
        "VM behind vepa reaches the kernel's VM"
    );
    assert!(ping(&vm2.name, "10.80.0.1"), "and back");
    // TCP across (GSO frames segmented before encapsulation), byte-exact.
    let len = 8 << 20;
    assert_eq!(
        tcp_transfer(&vm1.name, &vm2.name, "10.80.0.2", 5201, len),
        len
    );
    assert_eq!(
        tcp_transfer(&vm2.name, &vm1.name, "10.80.0.1", 5202, len),
        len
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
    let fdb = sh(&["ip", "-n", &h2.name, "-d", "link"]);
    let _ = fdb;
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
    let rx = vepa_itest::counter(&stats, &format!("s{id}"), &format!("vx{id}"), "rx_frames");
    assert!(rx > 1000, "{stats}");
}
