//! The deliberate difference from the kernel: two private VMs that know each
//! other's MAC (static ARP) behind a hairpinning relay. The kernel delivers
//! the reflected unicast; vepa drops it and counts the drop.

use vepa_itest::evb::{Backend, Evb};
use vepa_itest::{counter, ping, require_root};

fn static_arp(evb: &Evb) {
    let m1 = evb.hosts[0].mac("eth0").to_string();
    let m2 = evb.hosts[1].mac("eth0").to_string();
    evb.hosts[0].exec(&[
        "ip",
        "neigh",
        "replace",
        &evb.ips[1],
        "lladdr",
        &m2,
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    evb.hosts[1].exec(&[
        "ip",
        "neigh",
        "replace",
        &evb.ips[0],
        "lladdr",
        &m1,
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
}

#[test]
fn kernel_passes_reflected_unicast_vepa_drops_it() {
    require_root();
    let kernel = Evb::build(Backend::Kernel, "private", true);
    static_arp(&kernel);
    assert!(
        ping(kernel.ns(0), &kernel.ips[1]),
        "kernel private mode passes unicast once ARP is static"
    );
    assert!(
        ping(kernel.ns(0), &kernel.ips[3]),
        "the outside host stays reachable"
    );
    drop(kernel);

    let mut vepa = Evb::build(Backend::Vepa, "private", true);
    static_arp(&vepa);
    assert!(
        !ping(vepa.ns(0), &vepa.ips[1]),
        "vepa private mode must drop reflected unicast between VMs"
    );
    assert!(
        ping(vepa.ns(0), &vepa.ips[3]),
        "the outside host stays reachable"
    );
    let up = vepa.uplink_port.clone();
    let stats = vepa.stop().expect("vepa stats");
    let drops = counter(&stats, "host", &up, "private_isolation");
    assert!(
        drops >= 3,
        "three echo requests dropped and counted on the uplink, got {drops}: {stats}"
    );
    for p in &vepa.vm_ports[1..] {
        assert_eq!(counter(&stats, "host", p, "private_isolation"), 0);
    }
}
