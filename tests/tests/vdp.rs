//! 802.1Qbg's VDP over ECP against lldpad, both ways, with real frames: an
//! lldpad station associates a VSI through a vepa relay port (and, with
//! `vdp_enforce`, only that VSI's MAC gets through); vepa's uplink
//! associates a VM with an lldpad bridge, whose debug log is the only view
//! lldpad has of what it associated, and the ASSOCIATE on the wire is read
//! field by field against 802.1Qbg clause 41.

use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::lldpad::{evb_view, wait_for, Lldpad};
use vepa_itest::{ping, require_root, send_frames, uid, Capture, Netns};
use vepa_packet::MacAddr;

const UUID: &str = "a1b2c3d4-e5f6-1122-3344-556677889900";

fn vdp_view(d: &Daemon) -> serde_json::Value {
    d.json(&["vdp", "show"])
}

/// `vdptool` in the station's namespace: `mode` (assoc, deassoc) of the
/// test's VSI, whose one filter is `mac` in any VLAN.
fn vdptool(st: &Netns, mode: &str, mac: MacAddr) {
    let (m, u, f) = (
        format!("mode={mode}"),
        format!("uuid={UUID}"),
        format!("filter=0-{mac}"),
    );
    let o = st.exec(&[
        "vdptool",
        "-i",
        "eth0",
        "-T",
        "-W",
        "-V",
        mode,
        "-c",
        &m,
        "-c",
        "mgrid2=0",
        "-c",
        "typeid=4660",
        "-c",
        "typeidver=1",
        "-c",
        &u,
        "-c",
        "hints=none",
        "-c",
        &f,
    ]);
    assert!(o.status.success(), "vdptool {mode}: {o:?}");
}

fn drops(d: &Daemon, sw: &str, port: &str, reason: &str) -> u64 {
    let stats = d.json(&["stats"]);
    stats["ports"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["switch"] == sw && p["port"] == port))
        .and_then(|p| p["drops"][reason].as_u64())
        .unwrap_or(0)
}

#[test]
fn an_lldpad_station_associates_through_a_relay_port_which_enforces_it() {
    require_root();
    let id = uid();
    let (st, out) = (
        Netns::new(&format!("vst{id}")),
        Netns::new(&format!("vso{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("vb{id}");
    let (rp, op) = (format!("vbr{id}"), format!("vbo{id}"));
    d.links = vec![rp.clone(), op.clone()];
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &rp,
        "--type",
        "veth",
        "--netns",
        &st.name,
        "--address",
        "10.9.3.1/24",
        "--relay",
        "on",
        "--vdp-enforce",
        "on",
    ]);
    d.ok(&[
        "port",
        "add",
        &sw,
        &op,
        "--type",
        "veth",
        "--netns",
        &out.name,
        "--address",
        "10.9.3.100/24",
    ]);
    // Nothing associated: the station's traffic is dropped and counted.
    assert!(!ping(&st.name, "10.9.3.100"), "unassociated traffic passed");
    assert!(drops(&d, &sw, &rp, "vdp_unassociated") > 0);

    let _station = Lldpad::evb_station(&st.name, "eth0");
    wait_for("the EVB exchange", Duration::from_secs(20), || {
        evb_view(&st, "eth0").contains("rrstat(0x5)")
    });
    let mac = st.mac("eth0");
    vdptool(&st, "assoc", mac);
    // vepa lists it, and lldpad's station holds the bridge's answer (0: success).
    wait_for("vepa lists the VSI", Duration::from_secs(10), || {
        let v = vdp_view(&d);
        v[0]["vsis"][0]["state"] == "associated" && v[0]["vsis"][0]["uuid"] == UUID
    });
    let v = vdp_view(&d);
    assert_eq!(v[0]["role"], "bridge", "{v}");
    assert_eq!(v[0]["enforce"], true, "{v}");
    assert_eq!(v[0]["vsis"][0]["mac"][0], mac.to_string(), "{v}");
    assert_eq!(v[0]["vsis"][0]["type_id"], 4660, "{v}");
    wait_for("lldpad holds the answer", Duration::from_secs(10), || {
        let o = st.exec(&["vdptool", "-i", "eth0", "-t", "-V", "assoc"]);
        let s = String::from_utf8_lossy(&o.stdout);
        s.contains(UUID) && s.contains("hints = 0")
    });
    let table = d.ok(&["vdp", "show"]);
    assert!(
        table.contains("associated") && table.contains(UUID),
        "{table}"
    );
    let (_, metrics) = d.http("GET", "/metrics", None).expect("GET /metrics");
    let line = format!(
        "vepa_vdp_vsis{{switch=\"{sw}\",port=\"{rp}\",role=\"bridge\",state=\"associated\"}} 1"
    );
    assert!(metrics.contains(&line), "{line} not in the metrics");

    // The associated MAC passes; another from the same port does not.
    assert!(ping(&st.name, "10.9.3.100"), "the associated VSI's traffic");
    let before = drops(&d, &sw, &rp, "vdp_unassociated");
    let other = MacAddr([0x02, 0x66, 0, 0, 0, 1]);
    let cap = Capture::start(&out.name, "eth0");
    let spoof: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            let mut f = vec![0xff; 6];
            f.extend_from_slice(&other.0);
            f.extend_from_slice(&[0x88, 0xb6, i]);
            f.resize(60, 0);
            f
        })
        .collect();
    send_frames(&st.name, "eth0", spoof);
    let seen = cap.finish();
    assert!(
        !seen.iter().any(|f| f.get(6..12) == Some(&other.0[..])),
        "an unassociated MAC got through"
    );
    wait_for("the spoofed frames counted", Duration::from_secs(5), || {
        drops(&d, &sw, &rp, "vdp_unassociated") >= before + 5
    });

    // De-associated: dropped again.
    vdptool(&st, "deassoc", mac);
    wait_for("vepa forgets the VSI", Duration::from_secs(10), || {
        vdp_view(&d)[0]["vsis"]
            .as_array()
            .is_some_and(|v| v.is_empty())
    });
    assert!(
        !ping(&st.name, "10.9.3.100"),
        "de-associated traffic passed"
    );
    d.ok(&["switch", "del", &sw]);
}

/// Reads a VDP ASSOCIATE frame as 802.1Qbg (clauses 41.2 and 43.3) lays
/// it out; panics naming the first field that is wrong.
fn check_associate(f: &[u8], src: MacAddr, mac: MacAddr, type_id: u32, uuid: &[u8; 16]) {
    let field = |name: &str, got: &[u8], want: &[u8]| {
        assert_eq!(got, want, "{name}: frame {}", hex(f));
    };
    field(
        "destination: nearest customer bridge",
        &f[0..6],
        &[0x01, 0x80, 0xc2, 0, 0, 0],
    );
    field("source: the agent's port MAC", &f[6..12], &src.0);
    field("EtherType: ECP", &f[12..14], &[0x89, 0x40]);
    // ECP: version 1, operation 0 (request), subtype 1 (VDP); a sequence number.
    field("ECP version/op/subtype", &f[14..16], &[0x10, 0x01]);
    // VDP: the Manager ID TLV (type 5, length 16) first, here all zero.
    field("manager ID TLV header", &f[18..20], &[0x0a, 0x10]);
    field("manager ID", &f[20..36], &[0; 16]);
    // ASSOCIATE (type 3), length 23 + 2 + 8 for one MAC/VID entry.
    field("ASSOCIATE TLV header", &f[36..38], &[0x06, 0x21]);
    field("status: a request, no hints", &f[38..39], &[0]);
    field("VSI type ID", &f[39..42], &type_id.to_be_bytes()[1..]);
    field("VSI type version", &f[42..43], &[1]);
    field("VSIID format: UUID", &f[43..44], &[5]);
    field("VSIID", &f[44..60], uuid);
    field("filter info format: MAC/VID", &f[60..61], &[2]);
    field("number of entries", &f[61..63], &[0, 1]);
    field("entry MAC", &f[63..69], &mac.0);
    field("entry PS/PCP/VID: untagged (0)", &f[69..71], &[0, 0]);
    field("End TLV", &f[71..73], &[0, 0]);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn vepa_associates_its_vm_with_an_lldpad_bridge() {
    require_root();
    let id = uid();
    let (out, vm) = (
        Netns::new(&format!("vbo{id}")),
        Netns::new(&format!("vbv{id}")),
    );
    let mut d = Daemon::start();
    let sw = format!("vs{id}");
    let (up, p1) = (format!("vsu{id}"), format!("vsp{id}"));
    d.links = vec![up.clone(), p1.clone()];
    let mac = MacAddr([0x02, 0, 0, 0, 0x0a, 0x02]);
    d.ok(&["switch", "add", &sw, "--mode", "vepa"]);
    d.ok(&[
        "port", "add", &sw, &up, "--type", "veth", "--uplink", "--netns", &out.name,
    ]);
    let log = tempfile::NamedTempFile::new().expect("log file");
    let _bridge = Lldpad::with_debug_log(
        &out.name,
        "nearest_customer_bridge : { eth0 : { adminStatus = 3; tlvid0080c20d : {
           enableTx = true; evbmode = \"bridge\"; evbrrcap = true; }; }; };\n",
        log.path(),
    );
    let cap = Capture::start(&out.name, "eth0");
    d.ok(&[
        "port",
        "add",
        &sw,
        &p1,
        "--type",
        "veth",
        "--netns",
        &vm.name,
        "--mac",
        &mac.to_string(),
        "--vsi",
        &format!("4660:1:{UUID}"),
    ]);
    // lldpad answers (0x40, success): vepa says associated.
    wait_for("associated", Duration::from_secs(30), || {
        vdp_view(&d)
            .as_array()
            .and_then(|a| a.iter().find(|p| p["port"] == up))
            .is_some_and(|p| p["vsis"][0]["state"] == "associated")
    });
    let frames = cap.finish();
    let uuid: [u8; 16] = [
        0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
        0x00,
    ];
    let assoc = frames
        .iter()
        .find(|f| f.get(12..14) == Some(&[0x89, 0x40][..]) && f.get(36) == Some(&0x06))
        .expect("our ASSOCIATE on the wire");
    let src = MacAddr::from_slice(&assoc[6..12]);
    check_associate(assoc, src, mac, 4660, &uuid);
    // lldpad's own view of it: its debug log's VSI listing.
    wait_for("lldpad lists the VSI", Duration::from_secs(5), || {
        let l = std::fs::read_to_string(log.path()).unwrap_or_default();
        l.contains("a1b2c3d4-e5f6-1122-3344-556677889900") && l.contains("02:00:00:00:0A:02")
    });
    let table = d.ok(&["vdp", "show"]);
    assert!(
        table.contains(&format!(
            "{p1}: {UUID} type 4660 v1 {mac} vlan 0: associated"
        )),
        "{table}"
    );

    // The VM goes: DE-ASSOCIATE on the wire, and the station forgets it.
    let cap = Capture::start(&out.name, "eth0");
    d.ok(&["port", "del", &sw, &p1]);
    wait_for("de-associated", Duration::from_secs(20), || {
        vdp_view(&d)
            .as_array()
            .and_then(|a| a.iter().find(|p| p["port"] == up))
            .is_some_and(|p| p["vsis"].as_array().is_some_and(|v| v.is_empty()))
    });
    let frames = cap.finish();
    assert!(
        frames
            .iter()
            .any(|f| f.get(12..14) == Some(&[0x89, 0x40][..])
                && f.get(36) == Some(&0x08)
                && f.get(44..60) == Some(&uuid[..])),
        "a DE-ASSOCIATE for the VSI"
    );
    d.ok(&["switch", "del", &sw]);
}
