//! LLDP on an uplink against a real lldpad: each side sees the other, a
//! VM's LLDP and ECP frames are dropped (never bridged to the adjacent
//! bridge), a hostile peer's malformed LLDPDUs are counted without harm,
//! and lldpad's shutdown LLDPDU removes it at once.

use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::lldpad::{wait_for, Lldpad};
use vepa_itest::{require_root, send_frames, uid, Capture, Netns};
use vepa_packet::MacAddr;

/// The one agent port's view.
fn uplink_view(d: &Daemon) -> serde_json::Value {
    let v = d.json(&["lldp", "show"]);
    let ports = v.as_array().expect("a list of ports");
    assert_eq!(ports.len(), 1, "one agent port (the uplink): {v}");
    ports[0].clone()
}

fn frame(dst: [u8; 6], src: MacAddr, ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f.resize(f.len().max(60), 0);
    f
}

/// A daemon with a `vepa` switch: an uplink veth whose far end is `eth0`
/// in `out`, and a VM port whose far end is `eth0` in `vm`. Names start
/// with `tag` and end with the test's unique id.
struct Setup {
    d: Daemon,
    out: Netns,
    vm: Netns,
    sw: String,
    up: String,
    p1: String,
}

fn vepa_switch(tag: &str) -> Setup {
    let id = uid();
    let (out, vm) = (
        Netns::new(&format!("{tag}o{id}")),
        Netns::new(&format!("{tag}v{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("{tag}s{id}");
    let (up, p1) = (format!("{tag}u{id}"), format!("{tag}p{id}"));
    d.links = vec![up.clone(), p1.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "vepa"]);
    d.ok(&[
        "port", "add", &sw, &up, "--type", "veth", "--uplink", "--netns", &out.name,
    ]);
    d.ok(&[
        "port", "add", &sw, &p1, "--type", "veth", "--netns", &vm.name,
    ]);
    Setup {
        d,
        out,
        vm,
        sw,
        up,
        p1,
    }
}

#[test]
fn lldp_neighbours_with_lldpad_on_the_uplink() {
    require_root();
    let Setup {
        d,
        out,
        vm,
        sw,
        up,
        p1,
    } = vepa_switch("ll");
    let peer_mac = out.mac("eth0");
    let mut lldpad = Lldpad::start(&out.name, "eth0");

    // vepa hears lldpad: its chassis is its interface's MAC.
    wait_for("vepa lists lldpad", Duration::from_secs(15), || {
        uplink_view(&d)["neighbours"][0]["chassis_id"] == peer_mac.to_string()
    });
    let view = uplink_view(&d);
    assert_eq!(view["role"], "uplink");
    assert_eq!(view["neighbours"][0]["ttl"], 120, "{view}");
    assert!(view["lldp_tx"].as_u64().unwrap_or(0) >= 1, "{view}");
    let table = d.ok(&["lldp", "show"]);
    assert!(table.contains(&format!("chassis {peer_mac}")), "{table}");

    // lldpad hears vepa: its port ID is the switch and port.
    wait_for("lldpad lists vepa", Duration::from_secs(15), || {
        let o = out.exec(&["lldptool", "-t", "-n", "-i", "eth0"]);
        String::from_utf8_lossy(&o.stdout).contains(&format!("Ifname: {sw}/{up}"))
    });

    // A VM's LLDP and ECP never reach the adjacent bridge.
    let vm_mac = vm.mac("eth0");
    let cap = Capture::start(&out.name, "eth0");
    let lldp = frame(
        [0x01, 0x80, 0xc2, 0, 0, 0x0e],
        vm_mac,
        0x88cc,
        &[0x02, 0x07, 0x04, 2, 0, 0, 0, 0, 9],
    );
    let ecp = frame(
        [0x01, 0x80, 0xc2, 0, 0, 0],
        vm_mac,
        0x8940,
        &[0x10, 0x01, 0, 1],
    );
    send_frames(&vm.name, "eth0", vec![lldp.clone(), ecp, lldp]);
    let seen = cap.finish();
    assert!(
        !seen.iter().any(|f| f.get(6..12) == Some(&vm_mac.0[..])
            && matches!(f.get(12..14), Some([0x88, 0xcc] | [0x89, 0x40]))),
        "a VM's link protocol frame crossed the uplink"
    );
    wait_for(
        "the VM's frames counted as dropped",
        Duration::from_secs(5),
        || {
            let stats = d.json(&["stats"]);
            let drops = stats["ports"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["switch"] == sw && p["port"] == p1))
                .map(|p| p["drops"]["link_protocol"].clone());
            drops == Some(serde_json::json!(3))
        },
    );

    // A hostile peer: truncated and lying LLDPDUs are counted, and harm
    // neither the agent nor the neighbour it knows.
    let bad = vec![
        frame(
            [0x01, 0x80, 0xc2, 0, 0, 0x0e],
            peer_mac,
            0x88cc,
            &[0x02, 0x40],
        ),
        frame(
            [0x01, 0x80, 0xc2, 0, 0, 0x0e],
            peer_mac,
            0x88cc,
            &[0x04, 0x03, 0x07, b'x', b'y'],
        ),
    ];
    send_frames(&out.name, "eth0", bad);
    wait_for("the bad LLDPDUs counted", Duration::from_secs(5), || {
        uplink_view(&d)["rx_errors"].as_u64().unwrap_or(0) >= 2
    });
    let view = uplink_view(&d);
    assert!(
        view["last_error"].as_str().unwrap_or("").contains("LLDPDU"),
        "{view}"
    );
    assert_eq!(view["neighbours"][0]["chassis_id"], peer_mac.to_string());

    // lldpad going away says so (TTL 0): forgotten at once, not in 120 s.
    lldpad.terminate();
    wait_for("lldpad forgotten", Duration::from_secs(5), || {
        uplink_view(&d)["neighbours"]
            .as_array()
            .is_some_and(|n| n.is_empty())
    });
    d.ok(&["switch", "del", &sw]);
}

#[test]
fn reflective_relay_granted_or_refused_by_an_lldpad_bridge() {
    require_root();
    let Setup { d, out, sw, up, .. } = vepa_switch("le");
    let relay = |d: &Daemon| {
        d.json(&["lldp", "show"])[0]["reflective_relay"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(relay(&d), "no EVB peer");

    // A bridge that can relay grants it once it hears the request.
    let mut bridge = Lldpad::evb_bridge(&out.name, "eth0", true);
    wait_for("relay granted", Duration::from_secs(20), || {
        relay(&d) == "granted"
    });
    // lldpad saw a station asking, and says it turned relay on.
    wait_for("lldpad grants", Duration::from_secs(10), || {
        let o = out.exec(&["lldptool", "-t", "-i", "eth0", "-g", "ncb", "-V", "evb"]);
        let s = String::from_utf8_lossy(&o.stdout).to_string();
        s.contains("rrctr") && s.contains("station:rrreq")
    });
    let table = d.ok(&["lldp", "show"]);
    assert!(table.contains("reflective relay: granted"), "{table}");
    let shown = d.ok(&["switch", "show"]);
    assert!(shown.contains("relay:    granted"), "{shown}");
    let (status, metrics) = d.http("GET", "/metrics", None).expect("GET /metrics");
    assert_eq!(status, 200);
    for (state, v) in [("granted", 1), ("refused", 0), ("no EVB peer", 0)] {
        let line =
            format!("vepa_evb_relay_state{{switch=\"{sw}\",port=\"{up}\",state=\"{state}\"}} {v}");
        assert!(metrics.contains(&line), "{line} not in the metrics");
    }
    bridge.terminate();

    // One that cannot relay: refused.
    let _bridge = Lldpad::evb_bridge(&out.name, "eth0", false);
    wait_for("relay refused", Duration::from_secs(20), || {
        relay(&d) == "refused"
    });
    // The log says what that means, once the agent's next tick saw it.
    wait_for("the refusal logged", Duration::from_secs(5), || {
        d.log().contains("the adjacent bridge does not reflect")
    });
    d.ok(&["switch", "del", &sw]);
}

#[test]
fn an_lldpad_station_behind_a_relay_port_is_granted_reflective_relay() {
    require_root();
    let id = uid();
    let st = Netns::new(&format!("lst{id}"));
    let mut d = Daemon::start();
    let sw = format!("lr{id}");
    let rp = format!("lrp{id}");
    d.links = vec![rp.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    d.ok(&[
        "port", "add", &sw, &rp, "--type", "veth", "--netns", &st.name, "--relay", "on",
    ]);
    let _station = Lldpad::with_config(
        &st.name,
        "nearest_customer_bridge : { eth0 : { adminStatus = 3; tlvid0080c20d : {
           enableTx = true; evbmode = \"station\"; evbrrreq = true; }; }; };\n",
    );
    // lldpad's station reports relay on (RRSTAT 1) once vepa's relay port
    // answers its request as a bridge.
    let mut last = String::new();
    let start = Instant::now();
    while !last.contains("rrstat(0x5)") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "lldpad never saw relay granted: {last}"
        );
        std::thread::sleep(Duration::from_millis(300));
        let o = st.exec(&["lldptool", "-t", "-i", "eth0", "-g", "ncb", "-V", "evb"]);
        last = String::from_utf8_lossy(&o.stdout).to_string();
    }
    assert!(last.contains("mode:station"), "{last}");
    // And vepa lists the station, asking.
    let v = d.json(&["lldp", "show"]);
    let p = &v.as_array().expect("ports")[0];
    assert_eq!(p["role"], "relay");
    let evb = &p["neighbours"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["agent"] == "nearest customer bridge"))
        .expect("the station's LLDPDU")["evb"];
    assert_eq!(
        (evb["mode"].as_str(), evb["rrreq"].as_bool()),
        (Some("station"), Some(true)),
        "{v}"
    );
    assert_eq!(evb["rrstat"], "on", "{v}");
    d.ok(&["switch", "del", &sw]);
}
