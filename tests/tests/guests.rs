//! Real guests on vepa: three QEMU guests (Debian's kernel, a busybox
//! initramfs, virtio-net) on VM taps of a host switch whose uplink goes
//! to an adjacent relay switch with an outside host behind it. QEMU is
//! started with `vepa vm-args` verbatim. What each guest could and could
//! not reach is read from its serial console: with `vepa` and the relay,
//! everything; with the relay off, or `private`, only the outside.

use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::guest::{self, Guest};
use vepa_itest::{require_root, uid, wait_reachable, Netns};

fn topology(id: &str, outside: &str, mode: &str, relay: bool) -> String {
    let mut t = format!(
        "[[switch]]\nname = \"gh{id}\"\nmode = \"{mode}\"\n\
         [switch.uplink]\nname = \"gu{id}\"\ntype = \"patch\"\npeer = \"gr{id}/gp{id}\"\n"
    );
    for i in 1..=3 {
        t += &format!("[[switch.port]]\nname = \"g{i}{id}\"\ntype = \"tap\"\n");
    }
    t += &format!(
        "[[switch]]\nname = \"gr{id}\"\nmode = \"veb\"\n\
         [[switch.port]]\nname = \"gp{id}\"\ntype = \"patch\"\npeer = \"gh{id}/gu{id}\"\nrelay = {relay}\n\
         [[switch.port]]\nname = \"go{id}\"\ntype = \"veth\"\nnetns = \"{outside}\"\naddress = [\"10.0.9.100/24\"]\n"
    );
    t
}

fn apply(d: &Daemon, text: &str) {
    let file = d.dir.path().join("guests.toml");
    std::fs::write(&file, text).expect("write");
    d.ok(&["apply", "-f", file.to_str().expect("path")]);
}

/// What each guest reaches: for guest i, (other guests, outside).
fn reach(guests: &mut [Guest]) -> Vec<(Vec<bool>, bool)> {
    let n = guests.len();
    (0..n)
        .map(|i| {
            let others = (0..n)
                .filter(|j| *j != i)
                .map(|j| guests[i].reaches(&format!("10.0.9.{}", j + 1)))
                .collect();
            (others, guests[i].reaches("10.0.9.100"))
        })
        .collect()
}

#[test]
fn guests_on_a_vepa_switch_reach_what_the_mode_allows() {
    require_root();
    if let Err(e) = guest::image() {
        panic!("guest image ({e}); scripts/test.sh installs qemu-system-x86, linux-image-amd64 and busybox-static");
    }
    let id = uid();
    let outside = Netns::new(&format!("go{id}"));
    let mut d = Daemon::start();
    apply(&d, &topology(&id, &outside.name, "vepa", true));
    let mut guests: Vec<Guest> = (1..=3)
        .map(|i| {
            let args = d.ok(&["vm-args", &format!("g{i}{id}")]);
            let net: Vec<String> = args.split_whitespace().map(str::to_string).collect();
            Guest::boot(&format!("guest{i}"), &format!("10.0.9.{i}/24"), &net)
        })
        .collect();
    for g in &mut guests {
        g.ready(Duration::from_secs(120));
    }
    assert!(
        wait_reachable(&outside.name, "10.0.9.1"),
        "the outside reaches guest 1"
    );
    let all = reach(&mut guests);
    assert_eq!(
        all,
        vec![(vec![true, true], true); 3],
        "vepa with the relay: every guest reaches every other and the outside"
    );
    // The daemon restarts under running guests: it adopts their taps.
    d.stop();
    d.launch();
    assert!(
        guests[1].reaches("10.0.9.100"),
        "guest 2 after a daemon restart"
    );
    assert!(
        guests[2].reaches("10.0.9.1"),
        "guest 3 reaches guest 1 after it"
    );
    for (mode, relay) in [("vepa", false), ("private", true)] {
        apply(&d, &topology(&id, &outside.name, mode, relay));
        for g in guests.iter_mut() {
            g.run("ip neigh flush all", Duration::from_secs(10));
        }
        assert_eq!(
            reach(&mut guests),
            vec![(vec![false, false], true); 3],
            "{mode}, relay {relay}: the outside only"
        );
    }
}

/// `vepa vm-args` and `vepa libvirt-xml` for a VM's port; the libvirt
/// element, put verbatim into a domain, is valid by libvirt's own schema
/// (`virt-xml-validate`); ports that are not a VM's are refused by name.
#[test]
fn vm_args_and_libvirt_xml_describe_a_vm_port() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("gx{id}"));
    let d = Daemon::start();
    apply(
        &d,
        &format!(
            "[[switch]]\nname = \"gx{id}\"\n\
             [[switch.port]]\nname = \"gv{id}\"\ntype = \"tap\"\nmac = \"52:54:00:aa:bb:01\"\nmtu = 1400\n\
             [[switch.port]]\nname = \"gc{id}\"\ntype = \"veth\"\nnetns = \"{}\"\n",
            ns.name
        ),
    );
    let args = d.ok(&["vm-args", &format!("gx{id}/gv{id}")]);
    assert_eq!(
        args.trim(),
        format!(
            "-netdev tap,id=net-gv{id},ifname=gv{id},script=no,downscript=no,vhost=off,vnet_hdr=on \
             -device virtio-net-pci,netdev=net-gv{id},mac=52:54:00:aa:bb:01,host_mtu=1400"
        )
    );
    let xml = d.ok(&["libvirt-xml", &format!("gv{id}")]);
    assert!(
        xml.contains(&format!("<target dev='gv{id}' managed='no'/>")),
        "{xml}"
    );
    let domain = format!(
        "<domain type='qemu'>\n<name>vepa-{id}</name>\n<memory unit='MiB'>128</memory>\n\
         <os><type arch='x86_64'>hvm</type></os>\n<devices>\n{xml}</devices>\n</domain>\n"
    );
    let file = d.dir.path().join("domain.xml");
    std::fs::write(&file, &domain).expect("write");
    let out = std::process::Command::new("virt-xml-validate")
        .arg(&file)
        .arg("domain")
        .output()
        .expect("virt-xml-validate (libvirt-clients)");
    assert!(
        out.status.success(),
        "{domain}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The tap is there for QEMU to open, and is a tap.
    assert!(vepa_itest::link_exists(&format!("gv{id}")));
    let err = d.fails(&["vm-args", &format!("gc{id}")]);
    assert!(
        err.contains("not a VM's port") && err.contains("--type tap"),
        "{err}"
    );
    let err = d.fails(&["vm-args", "nosuchport"]);
    assert!(err.contains("no such port"), "{err}");
}
