//! Knowing whether the adjacent bridge reflects, with real peers and real
//! traffic: a Linux bridge beyond vepa's uplink with lldpad on its port
//! (relay granted or refused over 802.1Qbg's EVB TLV, the bridge's hairpin
//! set as lldpad says, `relay_required` warn and fallback-veb), an lldpad
//! station of kernel VEPA macvlans behind a `relay = "evb"` port, and the
//! relay probe against a plain Linux bridge with hairpin off and on.

use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::lldpad::{evb_view, wait_for, Lldpad};
use vepa_itest::{ping, require_root, uid, Capture, Netns};

/// A daemon with a `vepa` switch whose uplink's far end is `eth0` in
/// `out`, enslaved there to a Linux bridge `br0` (hairpin off), and two
/// VMs (10.9.0.1 and .2) on vepa ports. With `stp`, the bridge runs the
/// kernel's STP (forward delay 2 s): without it a Linux bridge forwards
/// frames to 01:80:c2:00:00:00 instead of handing them to its port, so
/// lldpad on the port would never hear 802.1Qbg's nearest-customer-bridge
/// LLDPDUs.
struct Fabric {
    d: Daemon,
    out: Netns,
    vms: [Netns; 2],
    sw: String,
    up: String,
}

impl Fabric {
    fn build(tag: &str, stp: bool) -> Fabric {
        let id = uid();
        let out = Netns::new(&format!("{tag}o{id}"));
        let vms = [
            Netns::new(&format!("{tag}a{id}")),
            Netns::new(&format!("{tag}b{id}")),
        ];
        let mut d = Daemon::start();
        let sw = format!("{tag}s{id}");
        let up = format!("{tag}u{id}");
        let ports = [format!("{tag}p{id}"), format!("{tag}q{id}")];
        d.links = vec![up.clone(), ports[0].clone(), ports[1].clone()];
        d.ok(&["switch", "add", &sw, "--mode", "vepa"]);
        d.ok(&[
            "port", "add", &sw, &up, "--type", "veth", "--uplink", "--netns", &out.name,
        ]);
        for (i, (p, vm)) in ports.iter().zip(&vms).enumerate() {
            d.ok(&[
                "port",
                "add",
                &sw,
                p,
                "--type",
                "veth",
                "--netns",
                &vm.name,
                "--address",
                &format!("10.9.0.{}/24", i + 1),
            ]);
        }
        let stp = if stp {
            "ip link add br0 type bridge stp_state 1 forward_delay 200"
        } else {
            "ip link add br0 type bridge"
        };
        for cmd in [stp, "ip link set eth0 master br0", "ip link set br0 up"] {
            let args: Vec<&str> = cmd.split(' ').collect();
            let o = out.exec(&args);
            assert!(o.status.success(), "{cmd}: {o:?}");
        }
        wait_for(
            "the bridge port forwarding",
            Duration::from_secs(10),
            || {
                let o = out.exec(&["bridge", "link", "show", "dev", "eth0"]);
                String::from_utf8_lossy(&o.stdout).contains("state forwarding")
            },
        );
        Fabric {
            d,
            out,
            vms,
            sw,
            up,
        }
    }

    /// The bridge port's hairpin, as the adjacent bridge's operator sets it.
    fn hairpin(&self, on: bool) {
        let o = self.out.exec(&[
            "bridge",
            "link",
            "set",
            "dev",
            "eth0",
            "hairpin",
            if on { "on" } else { "off" },
        ]);
        assert!(o.status.success(), "bridge link set hairpin: {o:?}");
    }

    fn relay(&self) -> String {
        self.d.json(&["stats"])["switches"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["switch"] == self.sw))
            .and_then(|s| s["reflective_relay"].as_str())
            .unwrap_or("")
            .to_string()
    }

    fn falls_back(&self) -> bool {
        self.d.ok(&["switch", "show"]).contains(&format!(
            "{} fallback: frames between vepa ports are switched locally",
            self.sw
        ))
    }

    fn vms_talk(&self) -> bool {
        ping(&self.vms[0].name, "10.9.0.2")
    }
}

#[test]
fn relay_follows_an_lldpad_bridge_and_fallback_keeps_vms_talking() {
    require_root();
    let f = Fabric::build("rf", true);

    // The bridge can relay: it grants it; its port hairpins as lldpad says.
    let mut bridge = Lldpad::evb_bridge(&f.out.name, "eth0", true);
    wait_for("relay granted", Duration::from_secs(20), || {
        f.relay() == "granted"
    });
    let peer = f.out.mac("eth0").to_string();
    let lldp = f.d.json(&["lldp", "show"]);
    assert!(
        lldp[0]["neighbours"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["chassis_id"] == peer.as_str())),
        "vepa shows lldpad as its neighbour: {lldp}"
    );
    wait_for("lldpad turns relay on", Duration::from_secs(10), || {
        evb_view(&f.out, "eth0").contains("rrctr")
    });
    f.hairpin(true);
    assert!(
        f.vms_talk(),
        "relay granted and hairpin on: VMs reach each other"
    );
    bridge.terminate();

    // A bridge that cannot relay refuses; its port does not hairpin.
    let mut bridge = Lldpad::evb_bridge(&f.out.name, "eth0", false);
    wait_for("relay refused", Duration::from_secs(20), || {
        f.relay() == "refused"
    });
    let view = evb_view(&f.out, "eth0");
    assert!(!view.contains("rrctr"), "lldpad says it relays: {view}");
    f.hairpin(false);
    // warn (the default): VMs cannot reach each other, and the log says why.
    assert!(
        !f.vms_talk(),
        "relay refused: VEPA VMs must not reach each other"
    );
    wait_for("the refusal logged", Duration::from_secs(5), || {
        f.d.log().contains("will not come back")
    });
    assert!(!f.falls_back());

    // fallback-veb: switched locally while the bridge refuses.
    f.d.ok(&["switch", "set", &f.sw, "--relay-required", "fallback-veb"]);
    wait_for("fallback shown", Duration::from_secs(5), || f.falls_back());
    assert!(f.vms_talk(), "fallback-veb: VMs reach each other locally");
    wait_for("the fallback logged", Duration::from_secs(3), || {
        f.d.log().contains("are switched locally until it does")
    });
    let exported = f.d.ok(&["export"]);
    assert!(
        exported.contains("relay_required = \"fallback-veb\""),
        "{exported}"
    );
    bridge.terminate();

    // The bridge grants relay: back to pure VEPA, VM to VM through it.
    let _bridge = Lldpad::evb_bridge(&f.out.name, "eth0", true);
    wait_for("relay granted again", Duration::from_secs(20), || {
        f.relay() == "granted"
    });
    wait_for("fallback over", Duration::from_secs(5), || !f.falls_back());
    f.hairpin(true);
    let vm1 = f.vms[0].mac("eth0");
    let vm2 = f.vms[1].mac("eth0");
    let cap = Capture::start(&f.out.name, "eth0");
    assert!(
        f.vms_talk(),
        "granted: VMs reach each other through the bridge"
    );
    let seen = cap.finish();
    assert!(
        seen.iter()
            .any(|x| x.get(..6) == Some(&vm2.0[..]) && x.get(6..12) == Some(&vm1.0[..])),
        "VM-to-VM frames go up the uplink again ({} frames seen)",
        seen.len()
    );
    wait_for("the return logged", Duration::from_secs(3), || {
        f.d.log().contains("back to pure VEPA")
    });
    f.d.ok(&["switch", "del", &f.sw]);
}

#[test]
fn an_evb_relay_port_reflects_only_when_the_lldpad_station_asks() {
    require_root();
    let id = uid();
    // The station: a host whose two containers are kernel VEPA macvlans
    // on eth0, which faces vepa's relay port.
    let st = Netns::new(&format!("rst{id}"));
    let cs = [
        Netns::new(&format!("rsa{id}")),
        Netns::new(&format!("rsb{id}")),
    ];
    let mut d = Daemon::start();
    let sw = format!("rr{id}");
    let rp = format!("rrp{id}");
    d.links = vec![rp.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    d.ok(&[
        "port", "add", &sw, &rp, "--type", "veth", "--netns", &st.name, "--relay", "evb",
    ]);
    for (i, c) in cs.iter().enumerate() {
        let m = format!("mv{i}");
        for cmd in [
            format!("ip link add {m} link eth0 type macvlan mode vepa"),
            format!("ip link set {m} netns {}", c.name),
        ] {
            let args: Vec<&str> = cmd.split(' ').collect();
            let o = st.exec(&args);
            assert!(o.status.success(), "{cmd}: {o:?}");
        }
        for cmd in [
            format!("ip addr add 10.9.1.{}/24 dev {m}", i + 1),
            format!("ip link set {m} up"),
        ] {
            let args: Vec<&str> = cmd.split(' ').collect();
            let o = c.exec(&args);
            assert!(o.status.success(), "{cmd}: {o:?}");
        }
    }
    let relay_port = |d: &Daemon| {
        d.json(&["lldp", "show"])[0]["reflective_relay"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    wait_for("the relay port listed", Duration::from_secs(5), || {
        relay_port(&d).starts_with("off")
    });
    assert!(
        !ping(&cs[0].name, "10.9.1.2"),
        "no station asked: the relay port must not hairpin"
    );

    let _station = Lldpad::evb_station(&st.name, "eth0");
    // lldpad's station reports relay on (RRSTAT 1) once vepa answers.
    wait_for("lldpad sees relay granted", Duration::from_secs(20), || {
        evb_view(&st, "eth0").contains("rrstat(0x5)")
    });
    wait_for("vepa's relay on", Duration::from_secs(5), || {
        relay_port(&d) == "on (the station asks, EVB)"
    });
    assert!(
        ping(&cs[0].name, "10.9.1.2"),
        "the station asked: its VEPA containers reach each other through vepa's hairpin"
    );
    assert!(d
        .log()
        .contains("reflective relay follows the station's EVB request"));
    let ports = d.ok(&["port", "show", &sw]);
    assert!(ports.contains("evb"), "{ports}");
    d.ok(&["switch", "del", &sw]);
}

#[test]
fn the_relay_probe_tells_a_hairpin_bridge_from_a_plain_one() {
    require_root();
    let f = Fabric::build("rp", false);
    f.hairpin(false);
    let out = f.d.cli(&["relay", "probe", &f.sw]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "not reflecting exits 1: {text}");
    assert!(text.contains("does not reflect"), "{text}");
    assert!(text.contains("hairpin on"), "and says what to do: {text}");
    wait_for("shown", Duration::from_secs(3), || {
        f.relay() == "not reflecting (probe; no EVB peer)"
    });

    f.hairpin(true);
    let r = f.d.json(&["relay", "probe", &f.sw]);
    assert_eq!(r["reflecting"], true, "{r}");
    assert_eq!(r["uplink"], f.up.as_str());
    assert!(r["waited_ms"].as_u64().unwrap_or(9999) < 800, "{r}");
    assert_eq!(f.relay(), "reflecting (probe; no EVB peer)");
    let doctor = f.d.ok(&["doctor"]);
    assert!(
        doctor.contains(&format!(
            "adjacent bridge of {}/{}: reflective relay reflecting",
            f.sw, f.up
        )),
        "{doctor}"
    );
    // The probe never reaches a VM, and a switch without an uplink has
    // nothing to probe.
    let lone = format!("{}x", f.sw);
    f.d.ok(&["switch", "add", &lone]);
    let err = f.d.fails(&["relay", "probe", &lone]);
    assert!(err.contains("has no uplink"), "{err}");
    let err = f.d.fails(&["relay", "probe", "nosuch"]);
    assert!(err.contains("no switch 'nosuch'"), "{err}");
    f.d.ok(&["switch", "del", &lone]);

    // With fallback-veb, the probe's answer is what ends the fallback.
    f.d.ok(&["switch", "set", &f.sw, "--relay-required", "fallback-veb"]);
    wait_for(
        "no fallback while it reflects",
        Duration::from_secs(3),
        || !f.falls_back(),
    );
    f.hairpin(false);
    let _ = f.d.cli(&["relay", "probe", &f.sw]);
    wait_for("fallback once it stops", Duration::from_secs(3), || {
        f.falls_back()
    });
    assert!(f.vms_talk(), "switched locally");
    f.d.ok(&["switch", "del", &f.sw]);
}
