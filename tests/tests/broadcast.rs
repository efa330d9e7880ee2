//! One ARP request from VM1, counted as it arrives in every VM's namespace:
//! in veb and vepa (relay on) VM2 and VM3 get it exactly once and VM1
//! never; in private it comes back to VM1 alone. Kernel and vepa alike,
//! vepa with AF_PACKET ports and with AF_XDP ports.

use std::time::Duration;
use vepa_itest::evb::{Backend, Evb};
use vepa_itest::{arp_request, arp_requests_for, require_root, send_frames, Capture};

/// An address nobody has, so nothing answers and nothing else asks for it.
const TARGET: [u8; 4] = [10, 0, 0, 222];

fn arrivals(backend: Backend, mode: &str) -> Vec<usize> {
    let evb = Evb::build(backend, mode, true);
    let caps: Vec<Capture> = (0..3).map(|i| Capture::start(evb.ns(i), "eth0")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mac = evb.hosts[0].mac("eth0");
    send_frames(
        evb.ns(0),
        "eth0",
        vec![arp_request(mac, [10, 0, 0, 1], TARGET, None)],
    );
    std::thread::sleep(Duration::from_millis(700));
    caps.into_iter()
        .map(|c| arp_requests_for(&c.finish(), TARGET).len())
        .collect()
}

fn check(mode: &str, want: [usize; 3]) {
    require_root();
    let kernel = arrivals(Backend::Kernel, mode);
    assert_eq!(
        kernel, want,
        "{mode}: the kernel delivered [vm1, vm2, vm3] = {kernel:?}"
    );
    let vepa = arrivals(Backend::Vepa, mode);
    assert_eq!(
        vepa, want,
        "{mode}: vepa delivered [vm1, vm2, vm3] = {vepa:?}"
    );
    let xdp = arrivals(Backend::VepaXdp, mode);
    assert_eq!(
        xdp, want,
        "{mode}: vepa with AF_XDP ports delivered [vm1, vm2, vm3] = {xdp:?}"
    );
}

#[test]
fn veb_broadcast_reaches_each_other_vm_once() {
    check("veb", [0, 1, 1]);
}

#[test]
fn vepa_broadcast_reflected_to_each_other_vm_once() {
    check("vepa", [0, 1, 1]);
}

#[test]
fn private_broadcast_comes_back_to_the_sender_only() {
    check("private", [1, 0, 0]);
}
