//! Real guests on vepa: three QEMU guests (Debian's kernel, a busybox
//! initramfs, virtio-net) on VM taps of a host switch whose uplink goes
//! to an adjacent relay switch with an outside host behind it. QEMU is
//! started with `vepa vm-args` verbatim. What each guest could and could
//! not reach is read from its serial console: with `vepa` and the relay,
//! everything; with the relay off, or `private`, only the outside.

use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::guest::{self, Guest};
use vepa_itest::{require_root, uid, wait_reachable, wait_reachable_for, Netns};

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

/// What a guest test starts from: root, the guest image, a unique id, an
/// "outside" namespace (named `prefix` and the id) and a daemon.
fn guest_test(prefix: &str) -> (String, Netns, Daemon) {
    require_root();
    if let Err(e) = guest::image() {
        panic!("guest image ({e}); scripts/test.sh installs qemu-system-x86, linux-image-amd64 and busybox-static");
    }
    let id = uid();
    let outside = Netns::new(&format!("{prefix}{id}"));
    (id, outside, Daemon::start())
}

#[test]
fn guests_on_a_vepa_switch_reach_what_the_mode_allows() {
    let (id, outside, mut d) = guest_test("go");
    apply(&d, &topology(&id, &outside.name, "vepa", true));
    // Guest 3 has VMware's NIC (vmxnet3), as a VM moved from VMware does.
    let mut guests: Vec<Guest> = (1..=3)
        .map(|i| {
            let model = if i == 3 { "vmxnet3" } else { "virtio" };
            let args = d.ok(&["vm-args", &format!("g{i}{id}"), "--model", model]);
            let net: Vec<String> = args.split_whitespace().map(str::to_string).collect();
            Guest::boot(&format!("guest{i}"), &format!("10.0.9.{i}/24"), &net)
        })
        .collect();
    for g in &mut guests {
        g.ready(Duration::from_secs(120));
    }
    let driver = |g: &mut Guest| {
        g.value(
            "basename $(readlink /sys/class/net/eth0/device/driver)",
            Duration::from_secs(10),
        )
    };
    assert_eq!(driver(&mut guests[2]).as_deref(), Some("vmxnet3"));
    assert_eq!(driver(&mut guests[0]).as_deref(), Some("virtio_net"));
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

/// Asserts libvirt's schema takes `domain` (written to `file`).
fn valid_domain(file: &std::path::Path, domain: &str) {
    std::fs::write(file, domain).expect("write");
    let out = std::process::Command::new("virt-xml-validate")
        .arg(file)
        .arg("domain")
        .output()
        .expect("virt-xml-validate (libvirt-clients)");
    assert!(
        out.status.success(),
        "{domain}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
    let sock = d
        .vhost_dir()
        .join(format!("gu{id}.sock"))
        .display()
        .to_string();
    apply(
        &d,
        &format!(
            "[[switch]]\nname = \"gx{id}\"\n\
             [[switch.port]]\nname = \"gv{id}\"\ntype = \"tap\"\nmac = \"52:54:00:aa:bb:01\"\nmtu = 1400\n\
             [[switch.port]]\nname = \"gu{id}\"\ntype = \"vhost-user\"\nsocket = \"{sock}\"\nmac = \"52:54:00:aa:bb:02\"\n\
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
    valid_domain(&file, &domain);
    // VMware's NIC for a VM moved from VMware: QEMU's vmxnet3 device (no
    // host_mtu, which is virtio's), libvirt's vmxnet3 model.
    let args = d.ok(&["vm-args", &format!("gx{id}/gv{id}"), "--model", "vmxnet3"]);
    assert!(
        args.contains(&format!(
            "-device vmxnet3,netdev=net-gv{id},mac=52:54:00:aa:bb:01 "
        )) || args.trim().ends_with(&format!(
            "-device vmxnet3,netdev=net-gv{id},mac=52:54:00:aa:bb:01"
        )),
        "{args}"
    );
    let xml3 = d.ok(&["libvirt-xml", &format!("gv{id}"), "--model", "vmxnet3"]);
    assert!(xml3.contains("<model type='vmxnet3'/>"), "{xml3}");
    let domain3 = domain.replace(&xml, &xml3);
    valid_domain(&file, &domain3);
    // A vhost-user port is virtio only: another model is a usage error.
    let out = d.cli(&["vm-args", &format!("gu{id}"), "--model", "vmxnet3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only virtio-net"));
    // vhost-user: shared guest memory of the given size, QEMU the client
    // of vepa's socket (reconnecting), and under TCG legacy interrupts.
    let args = d.ok(&["vm-args", &format!("gu{id}"), "--memory", "256", "--tcg"]);
    assert_eq!(
        args.trim(),
        format!(
            "-object memory-backend-memfd,id=mem-gu{id},size=256M,share=on -machine memory-backend=mem-gu{id} \
             -chardev socket,id=chr-gu{id},path={sock},reconnect=1 \
             -netdev vhost-user,id=net-gu{id},chardev=chr-gu{id} \
             -device virtio-net-pci,netdev=net-gu{id},mac=52:54:00:aa:bb:02,vectors=0"
        )
    );
    assert!(
        std::os::unix::fs::FileTypeExt::is_socket(
            &std::fs::metadata(&sock)
                .expect("the vhost-user socket")
                .file_type()
        ),
        "vepa listens on the vhost-user socket"
    );
    let show = d.ok(&["port", "show", &format!("gx{id}"), &format!("gu{id}")]);
    assert!(show.contains("up (no guest)"), "{show}");
    let xml = d.ok(&["libvirt-xml", &format!("gu{id}")]);
    assert!(
        xml.contains(&format!("path='{sock}' mode='client'")),
        "{xml}"
    );
    let domain = format!(
        "<domain type='kvm'>\n<name>vepa-u{id}</name>\n<memory unit='MiB'>256</memory>\n\
         <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n\
         <os><type arch='x86_64'>hvm</type></os>\n<devices>\n{xml}</devices>\n</domain>\n"
    );
    valid_domain(&file, &domain);
    // The tap is there for QEMU to open, and is a tap.
    assert!(vepa_itest::link_exists(&format!("gv{id}")));
    let err = d.fails(&["vm-args", &format!("gc{id}")]);
    assert!(
        err.contains("not a VM's port") && err.contains("--type tap"),
        "{err}"
    );
    let err = d.fails(&["vm-args", "nosuchport"]);
    assert!(err.contains("no such port"), "{err}");
    // A vhost-user socket must be an absolute path, and two ports cannot
    // serve one; nothing is applied.
    let add_vhost_user = |socket: &str| {
        let (sw, port) = (format!("gx{id}"), format!("gw{id}"));
        d.fails(&[
            "port",
            "add",
            &sw,
            &port,
            "--type",
            "vhost-user",
            "--vhost-socket",
            socket,
        ])
    };
    let err = add_vhost_user("rel.sock");
    assert!(err.contains("socket") && err.contains("absolute"), "{err}");
    let err = add_vhost_user(&sock);
    assert!(
        err.contains("socket") && err.contains(&format!("already switch 'gx{id}', port 'gu{id}'")),
        "{err}"
    );
    // The port goes, and its socket with it.
    d.ok(&["port", "del", &format!("gx{id}"), &format!("gu{id}")]);
    assert!(!std::path::Path::new(&sock).exists());
}

/// iperf3 TCP for `secs` seconds between guest `g` (the client) and a
/// server in namespace `ns` at `ip`, the guest sending (or receiving with
/// `reverse`): the receiver's Mbit/s as iperf3 printed it.
fn iperf3_mbits(g: &mut Guest, ns: &str, ip: &str, secs: u32, reverse: bool) -> Option<String> {
    let mut srv = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "iperf3", "-s", "-1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(300));
    let flag = if reverse { "-R" } else { "" };
    let mbits = g.value(
        &format!(
            "iperf3 -c {ip} -t {secs} {flag} -f m 2>&1 | \
             awk '/receiver/ {{for(i=1;i<=NF;i++) if($i==\"Mbits/sec\") print $(i-1)}}'"
        ),
        Duration::from_secs(u64::from(secs) + 30),
    );
    let _ = srv.kill();
    let _ = srv.wait();
    mbits
}

/// Benchmark, not part of the suite (`bench/guest` runs it): iperf3 TCP
/// between a QEMU guest (virtio-net, TSO) and a namespace, through vepa (a
/// VM tap, then a vhost-user port) and through a Linux bridge (the same
/// kind of tap), both ways.
/// TCG emulates the guest's CPU, so the guest is the bottleneck: the
/// ratio says what the switch costs on top of that.
#[test]
#[ignore]
fn bench_guest_iperf3() {
    require_root();
    let secs: u32 = std::env::var("VEPA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let id = uid();
    let server = Netns::new(&format!("bs{id}"));
    let kernel = Netns::new(&format!("bk{id}"));
    let kserver = Netns::new(&format!("bq{id}"));
    // vepa: a VM tap and a veth to the server's namespace.
    let d = Daemon::start();
    apply(
        &d,
        &format!(
            "[[switch]]\nname = \"b{id}\"\n[[switch.port]]\nname = \"bt{id}\"\ntype = \"tap\"\n\
             [[switch.port]]\nname = \"bu{id}\"\ntype = \"vhost-user\"\n\
             [[switch.port]]\nname = \"bv{id}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.0.8.100/24\"]\n",
            server.name
        ),
    );
    // The kernel: a bridge with a tap and a veth, in a namespace.
    let k = |cmd: &str| vepa_itest::ns_sh(&kernel.name, cmd);
    k("ip link add br0 type bridge && ip link set br0 up && \
       ip tuntap add dev ktap mode tap vnet_hdr && ip link set ktap master br0 up");
    vepa_itest::sh(&[
        "ip",
        "-n",
        &kernel.name,
        "link",
        "add",
        "kv",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &kserver.name,
    ]);
    k("ip link set kv master br0 up");
    vepa_itest::sh(&[
        "ip",
        "netns",
        "exec",
        &kserver.name,
        "sh",
        "-c",
        "ip addr add 10.0.8.100/24 dev eth0 && ip link set eth0 up",
    ]);
    let vepa_net: Vec<String> = d
        .ok(&["vm-args", &format!("bt{id}")])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let vhost_user_net: Vec<String> = d
        .ok(&["vm-args", &format!("bu{id}"), "--memory", "192", "--tcg"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let kernel_net: Vec<String> = [
        "-netdev",
        "tap,id=k,ifname=ktap,script=no,downscript=no,vhost=off,vnet_hdr=on",
        "-device",
        "virtio-net-pci,netdev=k,mac=52:54:00:00:08:02",
    ]
    .map(String::from)
    .to_vec();
    let mut report = Vec::new();
    for (what, netns, srv, net) in [
        ("vepa", None, &server.name, vepa_net),
        ("vhost-user", None, &server.name, vhost_user_net),
        (
            "bridge",
            Some(kernel.name.as_str()),
            &kserver.name,
            kernel_net,
        ),
    ] {
        // The guests before this one had the same address.
        vepa_itest::ns_sh(srv, "ip neigh flush all");
        let mut g = Guest::boot_in(netns, what, "10.0.8.1/24", &net);
        g.ready(Duration::from_secs(120));
        assert!(
            g.reaches("10.0.8.100"),
            "{what}: the guest reaches the server"
        );
        for (dir, reverse) in [("guest -> ns", false), ("ns -> guest", true)] {
            let mbits = iperf3_mbits(&mut g, srv, "10.0.8.100", secs, reverse);
            if mbits.as_deref().unwrap_or_default().is_empty() {
                let tail = g.log.len().saturating_sub(15);
                eprintln!(
                    "{what} {dir}: no figure; the console said:\n{}",
                    g.log[tail..].join("\n")
                );
            }
            report.push(format!(
                "{what:10} {dir}: {} Mbit/s",
                mbits.unwrap_or_default()
            ));
        }
    }
    for r in &report {
        eprintln!("{r}");
    }
}

/// The same guests with the kernel forwarding (`backend = "kernel"`): the
/// VM ports are macvtaps on the host switch's uplink (a patch wire to a
/// Linux bridge with the outside host), in the switch's mode; QEMU gets
/// each macvtap's device as a file descriptor from `vepa vm-args`. A
/// kernel switch's devices are made anew when its mode changes, so each
/// mode boots its own guests.
#[test]
fn guests_on_macvtaps_of_a_kernel_switch() {
    let (id, outside, d) = guest_test("gk");
    for (mode, want_others) in [("vepa", true), ("private", false)] {
        let text = topology(&id, &outside.name, mode, true)
            .replace("[[switch]]\n", "[[switch]]\nbackend = \"kernel\"\n");
        apply(&d, &text);
        // The macvtaps are made anew, with the same MACs (the outside's
        // neighbour cache stays right).
        let mut guests: Vec<Guest> = (1..=3)
            .map(|i| {
                let line = d.ok(&["vm-args", &format!("g{i}{id}")]);
                assert!(
                    line.contains("fd=3") && line.contains("3<>/dev/tap"),
                    "{line}"
                );
                Guest::boot_shell(&format!("guest{i}"), &format!("10.0.9.{i}/24"), line.trim())
            })
            .collect();
        for g in &mut guests {
            g.ready(Duration::from_secs(120));
        }
        assert!(
            wait_reachable(&outside.name, "10.0.9.1"),
            "{mode}: the outside reaches guest 1"
        );
        assert_eq!(
            reach(&mut guests),
            vec![(vec![want_others; 2], true); 3],
            "kernel {mode} with the bridge's hairpin: others {want_others}, the outside yes"
        );
    }
}

/// A guest over vhost-user: QEMU hands its frames to vepa through shared
/// memory (no kernel device), next to a guest on a VM tap and a namespace
/// on a veth, all on one switch; each reaches the others.
#[test]
fn a_guest_over_vhost_user_reaches_the_rest() {
    let (id, outside, mut d) = guest_test("gw");
    apply(
        &d,
        &format!(
            "[[switch]]\nname = \"gv{id}\"\n\
             [[switch.port]]\nname = \"u1{id}\"\ntype = \"vhost-user\"\n\
             [[switch.port]]\nname = \"t2{id}\"\ntype = \"tap\"\n\
             [[switch.port]]\nname = \"o{id}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.0.7.100/24\"]\n",
            outside.name
        ),
    );
    let args = |port: &str, extra: &[&str]| -> Vec<String> {
        let mut a = vec!["vm-args", port];
        a.extend_from_slice(extra);
        d.ok(&a).split_whitespace().map(str::to_string).collect()
    };
    let net1 = args(&format!("u1{id}"), &["--memory", "192", "--tcg"]);
    assert!(
        net1.iter().any(|a| a.starts_with("vhost-user,")),
        "{net1:?}"
    );
    let net2 = args(&format!("t2{id}"), &[]);
    let mut g1 = Guest::boot("vhost-user", "10.0.7.1/24", &net1);
    let mut g2 = Guest::boot("tap", "10.0.7.2/24", &net2);
    g1.ready(Duration::from_secs(120));
    g2.ready(Duration::from_secs(120));
    if !wait_reachable(&outside.name, "10.0.7.1") {
        let st = g1.value("cat /sys/class/net/eth0/statistics/tx_packets /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/operstate | tr '\\n' ' '", Duration::from_secs(10));
        panic!(
            "the namespace reaches the vhost-user guest: guest says {st:?}\nqemu: {}\n{}\n{}\n{}",
            g1.stop(),
            g1.log.join("\n"),
            d.ok(&["stats"]),
            d.log()
        );
    }
    assert!(g1.reaches("10.0.7.100"), "vhost-user guest -> namespace");
    assert!(g1.reaches("10.0.7.2"), "vhost-user guest -> tap guest");
    assert!(g2.reaches("10.0.7.1"), "tap guest -> vhost-user guest");
    let show = d.ok(&["port", "show", &format!("gv{id}"), &format!("u1{id}")]);
    assert!(show.contains("up (guest connected)"), "{show}");
    // TCP both ways: the guest's TSO super-frames and partial checksums
    // go through vepa to the namespace's veth, and the way back.
    for reverse in [false, true] {
        let mbits = iperf3_mbits(&mut g1, &outside.name, "10.0.7.100", 2, reverse);
        let rate: f64 = mbits.as_deref().unwrap_or("").parse().unwrap_or(0.0);
        assert!(
            rate > 1.0,
            "iperf3 over vhost-user (reverse {reverse}): {mbits:?}\n{}",
            g1.log[g1.log.len().saturating_sub(15)..].join("\n")
        );
    }
    // vepa restarts under the running guest: QEMU reconnects to the new
    // socket (reconnect=1) and the rings start again.
    d.stop();
    d.launch();
    assert!(
        wait_reachable_for(&outside.name, "10.0.7.1", Duration::from_secs(30)),
        "the namespace reaches the vhost-user guest after a daemon restart\n{}",
        d.log()
    );
    assert!(
        g1.reaches("10.0.7.2"),
        "vhost-user guest -> tap guest after a daemon restart"
    );
    let xml = d.ok(&["libvirt-xml", &format!("u1{id}")]);
    assert!(
        xml.contains("<interface type='vhostuser'>") && xml.contains("mode='client'"),
        "{xml}"
    );
}
