//! The topology file: what it accepts and how it reports mistakes.

use super::*;
use vepa_dataplane::PortMode;
use vepa_dataplane::PortRole;

const GOOD: &str = r#"
[[switch]]
name = "host"
mode = "vepa"
[switch.uplink]
name = "h-up"
type = "patch"
peer = "relay/r-host"
[[switch.port]]
name = "h-vm1"
type = "veth"
netns = "vm1"
address = ["10.0.0.1/24"]

[[switch]]
name = "relay"
[[switch.port]]
name = "r-host"
type = "patch"
peer = "host/h-up"
relay = true
"#;

fn err(text: &str) -> String {
    match Topology::parse("t.toml", text).and_then(|t| t.validate().map(|_| t)) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_good_file_validates() {
    let t = Topology::parse("t.toml", GOOD).unwrap();
    let cfgs = t.validate().unwrap();
    assert_eq!(cfgs.len(), 2);
    assert_eq!(cfgs[0].ports[0].role, PortRole::Uplink);
    assert_eq!(cfgs[0].ports[1].role, PortRole::Downlink(PortMode::Vepa));
    assert!(cfgs[1].ports[0].relay);
    // what we print, we read back the same
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
}

#[test]
fn errors_name_the_field() {
    let cases = [
            (GOOD.replace("mode = \"vepa\"", "mode = \"hairpin\""), "t.toml:4:8: unknown variant `hairpin`"),
            (GOOD.replace("relay = true", "relay = true\nhairpin = 1"), "unknown field `hairpin`"),
            (GOOD.replace("name = \"h-vm1\"", "name = \"h-up\""), "port 'h-up': name: duplicate port name"),
            (GOOD.replace("type = \"veth\"", "type = \"veth\"\nifname = \"r-host\""), "port 'r-host': name: interface 'r-host' is already used by switch 'host', port 'h-vm1'"),
            (GOOD.replace("peer = \"host/h-up\"", "peer = \"host/nope\""), "port 'h-up': peer: 'relay/r-host' must be a patch port whose peer is \"host/h-up\""),
            (GOOD.replace("10.0.0.1/24", "10.0.0.1"), "port 'h-vm1': address: '10.0.0.1': expected an address"),
            (GOOD.replace("name = \"h-vm1\"", "name = \"a-very-long-port-name\""), "name: the port name becomes the interface name"),
            (GOOD.replace("netns = \"vm1\"", "netns = \"vm1\"\nvlan = 5000"), "vlan: VLAN ID 5000 is out of range"),
            (GOOD.replace("type = \"veth\"", "type = \"netdev\""), "ifname: a netdev port names the existing interface"),
            ("[[switch]]\nname = \"s\"\nmode = \"vepa\"\n[[switch.port]]\nname = \"a\"\ntype = \"tap\"\n".to_string(), "switch 's', port 'a': mode: mode \"vepa\" sends frames to the uplink"),
            ("[[switch]\n".to_string(), "t.toml:1:"),
            (String::new(), "no switches"),
        ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    }
}

#[test]
fn relay_on_request_and_the_relay_policy() {
    let evb = GOOD.replace("relay = true", "relay = \"evb\"").replace(
        "mode = \"vepa\"",
        "mode = \"vepa\"\nrelay_required = \"fallback-veb\"",
    );
    let t = Topology::parse("t.toml", &evb).unwrap();
    let cfgs = t.validate().unwrap();
    assert!(cfgs[0].fallback_veb);
    let p = &cfgs[1].ports[0];
    assert!(!p.relay && p.relay_on_request, "off until the station asks");
    assert!(p.runs_link_agent());
    let back = t.to_toml().unwrap();
    assert!(back.contains("relay = \"evb\"") && back.contains("relay_required = \"fallback-veb\""));
    assert_eq!(Topology::parse("x", &back).unwrap(), t);
    let cases = [
        (
            GOOD.replace("relay = true", "relay = \"yes\""),
            "t.toml:21:9: invalid value: string \"yes\", expected true, false or \"evb\" for relay",
        ),
        (
            GOOD.replace("relay = true", "relay = 1"),
            "expected true, false or \"evb\"",
        ),
        (
            GOOD.replace(
                "peer = \"relay/r-host\"",
                "peer = \"relay/r-host\"\nrelay = \"evb\"",
            ),
            "port 'h-up': relay: \"evb\" follows the 802.1Qbg station",
        ),
        (
            GOOD.replace("relay = true", "relay = \"evb\"")
                .replace("name = \"relay\"", "name = \"relay\"\nlldp = false"),
            "relay: \"evb\" follows the station's EVB TLV, which travels in LLDP",
        ),
        (
            GOOD.replace(
                "name = \"relay\"",
                "name = \"relay\"\nrelay_required = \"ignore\"",
            ),
            "switch 'relay': relay_required: \"ignore\" is about the adjacent bridge on the uplink",
        ),
        (
            GOOD.replace(
                "mode = \"vepa\"",
                "mode = \"vepa\"\nrelay_required = \"always\"",
            ),
            "unknown variant `always`, expected one of `warn`, `fallback-veb`, `ignore`",
        ),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

#[test]
fn vsis_and_vdp_enforcement() {
    let vm = "[[switch.port]]\nname = \"vm\"\ntype = \"veth\"\nmac = \"02:00:00:00:0a:02\"\n";
    let vsi =
        "vsi = { type_id = 4660, version = 1, uuid = \"a1b2c3d4-e5f6-1122-3344-556677889900\" }\n";
    let host = |port: &str| {
        format!("[[switch]]\nname = \"h\"\nmode = \"vepa\"\n[switch.uplink]\nname = \"up\"\ntype = \"veth\"\n{port}")
    };
    let t = Topology::parse("t.toml", &host(&format!("{vm}{vsi}"))).unwrap();
    t.validate().unwrap();
    let back = t.to_toml().unwrap();
    assert_eq!(Topology::parse("x", &back).unwrap(), t);
    let uuid = t.switches[0].ports[0]
        .vsi
        .as_ref()
        .unwrap()
        .uuid_bytes()
        .unwrap();
    assert_eq!(uuid[..4], [0xa1, 0xb2, 0xc3, 0xd4]);
    let relay = "[[switch]]\nname = \"r\"\n[[switch.port]]\nname = \"st\"\ntype = \"veth\"\nrelay = true\nvdp_enforce = true\n";
    let cfg = Topology::parse("t.toml", relay)
        .unwrap()
        .validate()
        .unwrap();
    assert!(cfg[0].ports[0].vdp_enforce);
    let cases = [
        (
            host(&format!("{vm}{}", vsi.replace("4660", "16777216"))),
            "port 'vm': vsi.type_id: 16777216 does not fit 24 bits",
        ),
        (
            host(&format!("{vm}{}", vsi.replace("a1b2c3d4-", "zz"))),
            "vsi.uuid: 'zze5f6-1122-3344-556677889900': expected a UUID",
        ),
        (
            host(&format!(
                "{vm}{}",
                vsi.replace("a1b2c3d4-e5f6-1122", "00000000-0000-0000")
            )),
            "its first half is zero",
        ),
        (
            host(&format!(
                "{}{vsi}",
                vm.replace("mac = \"02:00:00:00:0a:02\"\n", "")
            )),
            "vsi: the VSI's filter is the VM's MAC",
        ),
        (
            host(&format!(
                "{vm}{vsi}{}{vsi}",
                vm.replace("\"vm\"", "\"vm2\"").replace("0a:02", "0a:03")
            )),
            "port 'vm2': vsi.uuid: port 'vm' has the same VSI UUID",
        ),
        (
            format!("[[switch]]\nname = \"n\"\n{vm}{vsi}"),
            "it belongs to a downlink of a switch with an uplink",
        ),
        (
            relay.replace("relay = true\n", ""),
            "port 'st': vdp_enforce: VDP associations are made with the bridge on a relay port",
        ),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

/// Every file in examples/ is a valid topology.
#[test]
fn examples_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let t = Topology::load(&path).unwrap_or_else(|e| panic!("{e}"));
            t.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 6, "found {n} examples");
}

#[test]
fn flows_groups_and_openflow_errors_name_the_entry() {
    let with = |extra: &str| {
        GOOD.replacen(
            "mode = \"vepa\"\n",
            &format!("mode = \"vepa\"\n{extra}\n"),
            1,
        )
    };
    let ok = with(
        r#"flows = ["priority=10,icmp,in_port=h-vm1,actions=drop", "in_port=h-up,actions=NORMAL"]
groups = ["group_id=1,type=all,bucket=actions=output:h-vm1"]
openflow = { listen = "ptcp:16653", allow_plain_tcp = true, controller = "tcp:127.0.0.1:16633", fail_mode = "secure" }"#,
    );
    let t = Topology::parse("t.toml", &ok).unwrap();
    t.validate().unwrap();
    assert_eq!(t.switches[0].pipeline(0).unwrap().len(), 2);
    // export and parse again: the same.
    assert_eq!(Topology::parse("t.toml", &t.to_toml().unwrap()).unwrap(), t);

    let e = err(&with(
        r#"flows = ["priority=1,actions=drop", "in_port=nowhere,actions=drop"]"#,
    ));
    assert!(e.contains("switch 'host': flows[1]: in_port"), "{e}");
    let e = err(&with(
        r#"flows = ["priority=1,udp,actions=drop", "priority=1,udp,actions=NORMAL"]"#,
    ));
    assert!(e.contains("flows[1]") && e.contains("flows[0]"), "{e}");
    let e = err(&with(r#"flows = ["priority=1,actions=group:7"]"#));
    assert!(e.contains("flows[0]") && e.contains("group 7"), "{e}");
    let e = err(&with(r#"flows = ["priority=1"]"#));
    assert!(e.contains("flows[0]") && e.contains("actions="), "{e}");
    let e = err(&with(r#"openflow = { listen = "tcp:1" }"#));
    assert!(e.contains("openflow.listen"), "{e}");
    let e = err(&with(r#"openflow = { controller = "tcp:host:99999" }"#));
    assert!(e.contains("openflow.controller"), "{e}");
    let e = err(&with(r#"openflow = { fail_mode = "closed" }"#));
    assert!(e.contains("fail_mode") || e.contains("closed"), "{e}");
    // Plain TCP: loopback only, and only when allowed in so many words.
    for (spec, want) in [
        (r#"{ listen = "ptcp:6653" }"#, "allow_plain_tcp"),
        (
            r#"{ listen = "ptcp:6653:0.0.0.0", allow_plain_tcp = true }"#,
            "pssl:",
        ),
        (
            r#"{ listen = "ptcp:6653:10.1.2.3" }"#,
            "anyone who reaches it",
        ),
        (r#"{ allow_plain_tcp = true }"#, "no ptcp: listen"),
        (
            r#"{ listen = "pssl:6653", allow_plain_tcp = true }"#,
            "not plain TCP",
        ),
        (r#"{ controller = "udp:1.2.3.4" }"#, "ssl:HOST"),
    ] {
        let e = err(&with(&format!("openflow = {spec}")));
        assert!(e.contains("openflow.") && e.contains(want), "{spec}: {e}");
    }
    for spec in [
        r#"{}"#,
        r#"{ listen = "pssl:6653:0.0.0.0", controller = "ssl:10.0.0.5" }"#,
        r#"{ listen = "ptcp:6653:[::1]", allow_plain_tcp = true }"#,
    ] {
        let t = Topology::parse("t.toml", &with(&format!("openflow = {spec}"))).unwrap();
        t.validate().unwrap();
    }
}

#[test]
fn a_kernel_bridge_name_collides_with_a_port_interface() {
    let text = r#"
[[switch]]
name = "other"
[[switch.port]]
name = "br7"
type = "veth"

[[switch]]
name = "br7"
backend = "kernel"
[[switch.port]]
name = "k1"
type = "veth"
"#;
    let e = err(text);
    assert!(
        e.contains("switch 'br7'") && e.contains("name") && e.contains("already used"),
        "{e}"
    );
    // A userspace switch makes no device of that name.
    let ok = text.replace("backend = \"kernel\"\n", "");
    Topology::parse("t.toml", &ok).unwrap().validate().unwrap();
}

#[test]
fn vhost_user_ports_are_checked() {
    let two = |a: &str, b: &str| {
        format!(
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"vm1\"\ntype = \"vhost-user\"\n{a}\n\
             [[switch.port]]\nname = \"vm2\"\ntype = \"vhost-user\"\n{b}\n"
        )
    };
    let ok = Topology::parse("t", &two("", "socket = \"/tmp/vm2.sock\"")).unwrap();
    ok.check().unwrap();
    let p = &ok.switches[0].ports;
    assert_eq!(
        p[0].vhost_user_socket("s"),
        "/run/vepa/vhost-user/s/vm1.sock"
    );
    assert_eq!(p[1].vhost_user_socket("s"), "/tmp/vm2.sock");
    // Port names are per switch, and so are default sockets.
    let ok = Topology::parse(
        "t",
        "[[switch]]\nname = \"a\"\n[[switch.port]]\nname = \"vm\"\ntype = \"vhost-user\"\n\
         [[switch]]\nname = \"b\"\n[[switch.port]]\nname = \"vm\"\ntype = \"vhost-user\"\n",
    )
    .unwrap();
    ok.check().unwrap();
    let long = format!("socket = \"/tmp/{}.sock\"", "x".repeat(100));
    for (a, b, want) in [
        ("socket = \"vm.sock\"", "", ": socket: 'vm.sock'"),
        ("socket = \"/tmp/\"", "", "absolute path to a socket file"),
        (
            "socket = \"/tmp/s.sock\"",
            "socket = \"/tmp/s.sock\"",
            "already switch 's', port 'vm1''s",
        ),
        (&long, "", "longer than a unix socket address holds"),
        ("netns = \"x\"", "", "netns"),
        ("address = [\"10.0.0.1/24\"]", "", "address"),
    ] {
        let e = err(&two(a, b));
        assert!(e.contains(want), "{a} / {b}: {e} (wanted {want})");
    }
    let e =
        err("[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"a/b\"\ntype = \"vhost-user\"\n");
    assert!(e.contains("without '/'"), "{e}");
}

#[test]
fn vxlan_ports_are_checked() {
    let base = |extra: &str| {
        format!(
            "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"to-far-host\"\ntype = \"vxlan\"\nlocal = \"192.0.2.1\"\nremote = [\"192.0.2.2\"]\n{extra}"
        )
    };
    let ok = Topology::parse("t", &base("vni = 42\n")).unwrap();
    ok.check().unwrap();
    let trunk = Topology::parse(
        "t",
        &base("vlan_vni = [\"10:1010\", \"20:1020\"]\ntrunk = [10, 20]\n"),
    )
    .unwrap();
    trunk.check().unwrap();
    assert_eq!(
        trunk.switches[0].ports[0].vlan_vnis(),
        vec![(10, 1010), (20, 1020)]
    );
    for (extra, want) in [
        ("", "needs its VNI"),
        ("vni = 16777216\n", "out of range"),
        ("vni = 42\nnetns = \"x\"\n", "netns"),
        ("vlan_vni = [\"10:1010\"]\n", "trunk of exactly its VLANs"),
        (
            "vlan_vni = [\"10-1010\"]\ntrunk = [10]\n",
            "expected VID:VNI",
        ),
        (
            "vlan_vni = [\"10:1010\", \"20:1010\"]\ntrunk = [10, 20]\n",
            "each VLAN and each VNI once",
        ),
        ("vlan_vni = [\"10:1010\"]\ntrunk = [10]\nvni = 5\n", "vni"),
    ] {
        let e = Topology::parse("t", &base(extra))
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{extra}: {e} (wanted {want})");
    }
    let mut bad_remote = base("vni = 42\n");
    bad_remote = bad_remote.replace("192.0.2.2", "fd00::2");
    let e = Topology::parse("t", &bad_remote)
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("remote"), "{e}");
}

#[test]
fn fabric_ports_are_checked() {
    let port = |body: &str| {
        format!(
            "[[switch]]\nname = \"s\"\nmode = \"vepa\"\n[switch.uplink]\nname = \"fab\"\n{body}"
        )
    };
    let ok = Topology::parse(
        "t",
        &port("type = \"vxlan\"\nvni = 100\nfabric = true\nrelay = true\n"),
    )
    .unwrap();
    let cfg = ok.validate().unwrap();
    // The fabric reflects; the switch does not hairpin on that port.
    assert!(!cfg[0].ports[0].relay);
    for (body, want) in [
        ("type = \"vxlan\"\nvni = 100\n", "fabric = true"),
        ("type = \"veth\"\nfabric = true\n", "fabric"),
        ("type = \"veth\"\narp_suppress = true\n", "arp_suppress"),
        (
            "type = \"vxlan\"\nfabric = true\narp_suppress = true\nvlan_vni = [\"10:1010\"]\ntrunk = [10]\n",
            "arp_suppress",
        ),
        (
            "type = \"vxlan\"\nvni = 1\nlocal = \"192.0.2.1\"\narp_suppress = true\n",
            "arp_suppress",
        ),
        (
            "type = \"vxlan\"\nvni = 1\nfabric = true\nremote = [\"192.0.2.9\", \"fd00::9\"]\n",
            "remote",
        ),
    ] {
        let e = Topology::parse("t", &port(body))
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{body}: {e} (wanted {want})");
    }
}

#[test]
fn two_tunnels_cannot_share_a_socket() {
    let text = |second: &str| {
        format!(
            "[[switch]]\nname = \"a\"\n[switch.uplink]\nname = \"fa\"\ntype = \"vxlan\"\nvni = 1\nfabric = true\n\
             [[switch]]\nname = \"b\"\n[switch.uplink]\nname = \"fb\"\ntype = \"vxlan\"\nvni = 2\nfabric = true\n{second}"
        )
    };
    let e = Topology::parse("t", &text(""))
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("dstport") && e.contains("already"), "{e}");
    Topology::parse("t", &text("dstport = 4790\n"))
        .unwrap()
        .check()
        .unwrap();
}

/// A state stored before plain TCP was opt-in loses the listeners the
/// checks now refuse, and keeps the rest.
#[test]
fn stored_plain_tcp_listeners_that_are_not_allowed_are_dropped() {
    use super::sdn::OpenFlowSpec;
    let spec = |listen: Option<&str>, allow: bool| OpenFlowSpec {
        listen: listen.map(str::to_string),
        allow_plain_tcp: allow,
        ..OpenFlowSpec::default()
    };
    for (before, dropped, after) in [
        (
            spec(Some("ptcp:6653"), false),
            Some("ptcp:6653"),
            spec(None, false),
        ),
        (
            spec(Some("ptcp:6653:0.0.0.0"), true),
            Some("ptcp:6653:0.0.0.0"),
            spec(None, false),
        ),
        (
            spec(Some("ptcp:6653"), true),
            None,
            spec(Some("ptcp:6653"), true),
        ),
        (
            spec(Some("pssl:6653"), false),
            None,
            spec(Some("pssl:6653"), false),
        ),
        (spec(None, true), None, spec(None, false)),
    ] {
        let mut s = before.clone();
        assert_eq!(s.drop_refused_plain_tcp().as_deref(), dropped, "{before:?}");
        assert_eq!(s, after, "{before:?}");
    }
}

#[test]
fn storm_control_and_mac_limits_default_by_who_sends() {
    use vepa_dataplane::storm::StormLimits;
    let t = Topology::parse("t.toml", GOOD).unwrap();
    let cfgs = t.validate().unwrap();
    let (up, vm) = (&cfgs[0].ports[0], &cfgs[0].ports[1]);
    assert_eq!(vm.storm, StormLimits::VM_DEFAULT, "a VM port is bounded");
    assert_eq!(vm.mac_limit, vepa_dataplane::DEFAULT_MAC_LIMIT);
    assert!(up.storm.is_unlimited(), "the uplink is not");
    assert_eq!(up.mac_limit, vepa_dataplane::NO_MAC_LIMIT);
    assert!(
        cfgs[1].ports[0].storm.is_unlimited(),
        "nor a patch to another switch"
    );
    assert_eq!(cfgs[0].group_fwd_mask, 0);

    let text = GOOD.replace(
        "netns = \"vm1\"",
        "netns = \"vm1\"\nstorm = { broadcast = \"200pps\", unknown_unicast = \"off\" }",
    );
    let text = text.replace(
        "[[switch]]\nname = \"relay\"",
        "[[switch]]\nname = \"relay\"\ngroup_fwd_mask = 0x4008",
    );
    let t = Topology::parse("t.toml", &text).unwrap();
    let cfgs = t.validate().unwrap();
    let vm = &cfgs[0].ports[1];
    assert_eq!(vm.storm.broadcast, Some(200));
    assert_eq!(
        vm.storm.multicast,
        StormLimits::VM_DEFAULT.multicast,
        "kept"
    );
    assert_eq!(vm.storm.unknown_unicast, None);
    assert_eq!(cfgs[1].group_fwd_mask, 0x4008);
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
}

#[test]
fn bad_storm_rates_and_masks_name_the_field() {
    let with = |line: &str| GOOD.replace("netns = \"vm1\"", &format!("netns = \"vm1\"\n{line}"));
    let cases = [
        (
            with("storm = { broadcast = \"fast\" }"),
            "port 'h-vm1': storm.broadcast: 'fast': expected a rate like \"1000pps\"",
        ),
        (
            with("storm = { multicast = \"0pps\" }"),
            "storm.multicast: '0pps': a rate of 0",
        ),
        (
            with("storm = { unknown_unicast = \"-5pps\" }"),
            "storm.unknown_unicast: '-5pps': expected a whole number",
        ),
        (
            with("storm = { flood = \"5pps\" }"),
            "unknown field `flood`",
        ),
        (
            GOOD.replace(
                "[[switch]]\nname = \"relay\"",
                "[[switch]]\nname = \"relay\"\ngroup_fwd_mask = 0x0001",
            ),
            "switch 'relay': group_fwd_mask: 0x0001 names STP, pause or LACP",
        ),
        (
            GOOD.replace(
                "[[switch]]\nname = \"relay\"",
                "[[switch]]\nname = \"relay\"\ngroup_fwd_mask = 70000",
            ),
            "t.toml:17:18: invalid value: integer `70000`, expected u16",
        ),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

#[test]
fn mirrors_read_round_trip_and_name_their_mistakes() {
    let with = |m: &str| {
        format!("{GOOD}{m}").replacen(
            "[[switch]]\nname = \"relay\"",
            "[[switch]]\nname = \"relay\"",
            1,
        )
    };
    // A mirror goes on the last switch of the file (relay); give it an
    // uplink-free SPAN and watch r-host.
    let span = "[[switch.port]]\nname = \"mon\"\ntype = \"veth\"\n[[switch.mirror]]\nname = \"m\"\nselect = [\"r-host\"]\noutput = \"mon\"\n";
    let t = Topology::parse("t.toml", &with(span)).unwrap();
    t.validate().unwrap();
    assert_eq!(t.switches[1].mirrors[0].direction, MirrorDirection::Both);
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
    let cases = [
        (
            span.replace("output = \"mon\"", "output = \"nope\""),
            "mirror 'm': no port 'nope'",
        ),
        (
            span.replace("output = \"mon\"", ""),
            "output: give output (a monitor port) or output_vlan",
        ),
        (
            span.replace("output = \"mon\"", "output = \"mon\"\noutput_vlan = 9"),
            "not both",
        ),
        (
            span.replace("output = \"mon\"", "output_vlan = 9"),
            "RSPAN sends copies up the uplink, and this switch has none",
        ),
        (
            span.replace("[\"r-host\"]", "[\"mon\"]"),
            "cannot watch its own output",
        ),
        (
            span.replace("select = [\"r-host\"]", "select = []"),
            "select: name the ports to watch",
        ),
        (
            span.replace(
                "output = \"mon\"",
                "output = \"mon\"\ndirection = \"sideways\"",
            ),
            "unknown variant `sideways`, expected one of `in`, `out`, `both`",
        ),
    ];
    for (m, want) in cases {
        let e = err(&with(&m));
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

#[test]
fn ipfix_reads_round_trips_fills_defaults_and_names_its_mistakes() {
    // `[switch.ipfix]` goes on the last switch of the file (relay).
    let x = "[switch.ipfix]\ncollector = \"192.0.2.10\"\n";
    let t = Topology::parse("t.toml", &format!("{GOOD}{x}")).unwrap();
    let cfgs = t.validate().unwrap();
    let relay = cfgs.iter().find(|c| c.name == "relay").unwrap();
    let ipfix = relay.ipfix.as_ref().unwrap();
    assert_eq!(ipfix.collector.to_string(), "192.0.2.10:4739");
    assert_eq!(
        (
            ipfix.sampling,
            ipfix.active_timeout_ms,
            ipfix.idle_timeout_ms
        ),
        (1, 60_000, 15_000)
    );
    assert_eq!(ipfix.domain, super::ipfix_domain_of("relay"));
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
    let cases = [
        (
            "collector = \"collector.example\"",
            "ipfix: collector: 'collector.example' is not IP:PORT",
        ),
        ("collector = \"0.0.0.0:4739\"", "not a collector's address"),
        ("collector = \"192.0.2.1:0\"", "not a collector's address"),
        (
            "collector = \"[fd00::1]:4739\"\nsampling = 0",
            "sampling: 0: one packet in N",
        ),
        (
            "collector = \"192.0.2.1\"\nidle_timeout = 0",
            "idle_timeout: 0: seconds from 1",
        ),
        (
            "collector = \"192.0.2.1\"\nactive_timeout = 90000",
            "active_timeout: 90000",
        ),
        (
            "collector = \"192.0.2.1\"\nrate = 5",
            "unknown field `rate`",
        ),
    ];
    for (body, want) in cases {
        let e = err(&format!("{GOOD}[switch.ipfix]\n{body}\n"));
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

#[test]
fn multicast_snooping_reads_its_router_ports_and_names_its_mistakes() {
    // `[switch.multicast]` on the relay switch: its patch is a router port
    // by default, r-host again when named changes nothing.
    let x = "[switch.multicast]\nrouter_ports = [\"r-host\"]\n";
    let t = Topology::parse("t.toml", &format!("{GOOD}{x}")).unwrap();
    let cfgs = t.validate().unwrap();
    let relay = cfgs.iter().find(|c| c.name == "relay").unwrap();
    assert!(relay.snoop.enabled && !relay.snoop.flood_unregistered);
    assert_eq!(
        relay.snoop.router_ports,
        vec![relay.port_id("r-host").unwrap()]
    );
    let host = cfgs.iter().find(|c| c.name == "host").unwrap();
    assert!(!host.snoop.enabled);
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
    // snooping = false: the table is kept, snooping is off.
    let off = "[switch.multicast]\nsnooping = false\n";
    let t = Topology::parse("t.toml", &format!("{GOOD}{off}")).unwrap();
    let cfgs = t.validate().unwrap();
    assert!(!cfgs.iter().any(|c| c.snoop.enabled));
    for (body, want) in [
        (
            "router_ports = [\"nope\"]",
            "multicast.router_ports[1]: switch 'relay' has no port 'nope'",
        ),
        (
            "querier = true\nquery_interval_secs = 1",
            "multicast.query_interval_secs: expected 2 to 125 seconds",
        ),
        (
            "query_interval_secs = 30",
            "multicast.query_interval_secs: used only with querier = true",
        ),
    ] {
        let e = err(&format!("{GOOD}[switch.multicast]\n{body}\n"));
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }
}

const BOND: &str = "[[switch]]\nname = \"s\"\nmode = \"vepa\"\n[switch.uplink]\nname = \"up\"\ntype = \"bond\"\n[switch.uplink.bond]\nmode = \"balance-tcp\"\nlacp = \"active\"\n[[switch.uplink.bond.member]]\nname = \"a\"\ntype = \"netdev\"\nifname = \"eth1\"\n[[switch.uplink.bond.member]]\nname = \"b\"\ntype = \"veth\"\nnetns = \"tor\"\n[[switch.port]]\nname = \"vm1\"\ntype = \"tap\"\n";

#[test]
fn a_bonded_uplink_reads_back_and_its_errors_name_the_field() {
    let t = Topology::parse("t.toml", BOND).unwrap();
    t.validate().unwrap();
    assert_eq!(Topology::parse("x", &t.to_toml().unwrap()).unwrap(), t);
    let up = t.switches[0].uplink.as_ref().unwrap();
    assert_eq!(up.made_ifnames(), vec!["b".to_string()]);
    let cases = [
        (BOND.replace("lacp = \"active\"\n", ""), "port 'up': bond.lacp: balance-tcp spreads"),
        (BOND.replace("lacp = \"active\"", "lacp = \"on\""), "unknown variant `on`"),
        (BOND.replace("name = \"b\"", "name = \"a\""), "port 'up', member 'a': name: duplicate member name"),
        (BOND.replace("ifname = \"eth1\"\n", ""), "member 'a': ifname: a netdev port names the existing interface"),
        (BOND.replace("type = \"veth\"\nnetns", "type = \"tap\"\nnetns"), "unknown variant `tap`"),
        (BOND.replace("name = \"vm1\"", "name = \"vm1\"\nifname = \"eth1\""), "port 'vm1': ifname: interface 'eth1' is already used by switch 's', port 'up', member 'a'"),
        (BOND.replace("mode = \"balance-tcp\"", "arp_targets = [\"10.0.0.300\"]"), "bond.arp_targets: '10.0.0.300' is not an IPv4 address"),
        (BOND.replace("mode = \"balance-tcp\"", "arp_interval_ms = 100"), "bond.arp_interval_ms: ARP monitoring is on only with arp_targets"),
        (BOND.replace("mode = \"balance-tcp\"", "arp_targets = [\"10.0.0.1\"]\narp_interval_ms = 1"), "bond.arp_interval_ms: expected 10 to 60000"),
        (BOND.replace("type = \"bond\"", "type = \"bond\"\nmac = \"02:00:00:00:00:01\""), "port 'up': mac: not used by a port of type \"bond\""),
        (BOND.replace("type = \"tap\"\n", "type = \"tap\"\n[switch.port.bond]\n"), "port 'vm1': bond: not used"),
        (BOND.replace("[switch.uplink.bond]\nmode = \"balance-tcp\"\nlacp = \"active\"\n[[switch.uplink.bond.member]]\nname = \"a\"\ntype = \"netdev\"\nifname = \"eth1\"\n[[switch.uplink.bond.member]]\nname = \"b\"\ntype = \"veth\"\nnetns = \"tor\"\n", ""), "port 'up': bond: a bond needs"),
        (BOND.replace("[[switch.uplink.bond.member]]\nname = \"a\"\ntype = \"netdev\"\nifname = \"eth1\"\n[[switch.uplink.bond.member]]\nname = \"b\"\ntype = \"veth\"\nnetns = \"tor\"\n", ""), "bond.member: expected 1 to 16 members, got 0"),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    }
    // A bond is an uplink only; the kernel backend leaves it to userspace.
    let down = "[[switch]]\nname = \"s\"\n[[switch.port]]\nname = \"b\"\ntype = \"bond\"\n[switch.port.bond]\n[[switch.port.bond.member]]\nname = \"a\"\ntype = \"netdev\"\nifname = \"eth1\"\n";
    assert!(err(down).contains("port 'b': type: a bond is a switch's uplink"));
    let kernel = BOND.replace("mode = \"vepa\"", "mode = \"vepa\"\nbackend = \"kernel\"");
    let t = Topology::parse("t.toml", &kernel).unwrap();
    let e = super::kernel::kernel_shape(&t.switches[0]);
    assert!(format!("{e:?}").contains("no bond device"), "{e:?}");
}
