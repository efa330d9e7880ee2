use super::*;
use vepa_dataplane::flow::{Action, Field, Instruction, OutPort};
use vepa_dataplane::PortId;

fn names() -> Vec<String> {
    ["up", "vm1", "vm2", "mon"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn reads_what_ovs_ofctl_users_write() {
    let n = names();
    let p = parse_flow(
        "priority=100,icmp,in_port=vm1,nw_dst=10.0.0.2,actions=drop",
        PortNames(&n),
    )
    .expect("parses");
    assert_eq!(p.spec.priority, 100);
    assert_eq!(p.spec.matcher.get(Field::InPort), Some((2, 0xffff_ffff)));
    assert_eq!(p.spec.matcher.get(Field::IpProto), Some((1, 0xff)));
    assert_eq!(
        p.spec.matcher.get(Field::Ipv4Dst),
        Some((0x0a00_0002, 0xffff_ffff))
    );
    assert!(p.spec.instructions.is_empty());

    let p = parse_flow("in_port=2 actions=output:vm2,output:4", PortNames(&n)).expect("parses");
    assert_eq!(
        p.spec.instructions,
        vec![Instruction::Apply(vec![
            Action::Output(OutPort::Port(PortId(2))),
            Action::Output(OutPort::Port(PortId(3)))
        ])]
    );
    let p = parse_flow(
        "table=0,priority=5,tcp,tp_dst=80,nw_src=10.0.0.0/8,actions=set_field:10.0.0.9->ip_dst,mod_vlan_vid:7,write_actions(output:mon),write_metadata:0x1/0xff,goto_table:3",
        PortNames(&n),
    )
    .expect("parses");
    assert_eq!(p.spec.matcher.get(Field::TcpDst), Some((80, 0xffff)));
    assert_eq!(
        p.spec.matcher.get(Field::Ipv4Src),
        Some((0x0a00_0000, 0xff00_0000))
    );
    assert_eq!(p.spec.instructions.len(), 4);
}

#[test]
fn errors_name_the_part_at_fault() {
    let n = names();
    for (text, part) in [
        ("in_port=vm9,actions=drop", "in_port"),
        ("tp_dst=80,actions=drop", "tp_dst"),
        ("priority=70000,actions=drop", "priority"),
        ("ip,nw_dst=10.0.0.300,actions=drop", "nw_dst"),
        ("actions=output:nowhere", "output:nowhere"),
        ("actions=frobnicate", "frobnicate"),
        ("bogus,actions=drop", "bogus"),
        ("udp,tcp_dst=1,actions=drop", "match"),
        // Found by the flow_text fuzzer (fuzz/regressions/flow_text).
        ("table=0,,nw_tos=0", "match"),
    ] {
        let e = parse_flow(text, PortNames(&n)).expect_err(text);
        assert_eq!(e.part, part, "{text}: {e}");
    }
}

#[test]
fn format_then_parse_is_the_identity() {
    let n = names();
    for text in [
        "priority=100,icmp,in_port=vm1,actions=drop",
        "table=2,priority=7,cookie=0x2a,idle_timeout=10,hard_timeout=20,send_flow_rem,tcp,nw_src=10.0.0.0/8,tp_dst=443,actions=output:vm2,CONTROLLER:128",
        "priority=1,arp,arp_op=1,arp_spa=10.0.0.1,actions=FLOOD",
        "priority=3,dl_src=02:00:00:00:00:00/ff:ff:ff:00:00:00,dl_vlan=10,actions=pop_vlan,NORMAL",
        "priority=3,dl_vlan=0xffff,actions=push_vlan:0x8100,mod_vlan_vid:5,set_field:02:00:00:00:00:09->eth_dst,output:up",
        "priority=9,udp6,ipv6_dst=fd00::/64,tp_src=53,actions=dec_ttl,IN_PORT",
        "priority=4,metadata=0x10/0xf0,actions=clear_actions,write_actions(group:3),write_metadata:0x1/0x1,goto_table:9",
        // A port number the switch lacks (a controller may install it): kept as a number.
        "priority=2,in_port=9,actions=drop",
        "priority=2,in_port=70000,vlan_vid=0x5/0x1fff,actions=drop",
    ] {
        let p = parse_flow(text, PortNames(&n)).unwrap_or_else(|e| panic!("{text}: {e}"));
        let again = format_flow(&p.spec, PortNames(&n));
        assert_eq!(again, text);
        let p2 = parse_flow(&again, PortNames(&n)).expect("reparses");
        assert_eq!(p2.spec, p.spec);
    }
}

#[test]
fn groups_both_ways() {
    let n = names();
    let text = "group_id=3,type=select,bucket=weight=2,actions=output:vm1,bucket=weight=1,actions=output:vm2";
    let g = parse_group(text, PortNames(&n)).expect("parses");
    assert_eq!(g.buckets.len(), 2);
    assert_eq!(format_group(&g, PortNames(&n)), text);
    let e = parse_group("group_id=1,type=odd", PortNames(&n)).expect_err("bad type");
    assert_eq!(e.part, "type");
}

#[test]
fn meters_both_ways() {
    for text in [
        "meter=1,pktps,burst,stats,bands=type=drop,rate=100,burst_size=10",
        "meter=7,kbps,bands=type=drop,rate=1000,type=drop,rate=5000",
    ] {
        let m = parse_meter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(format_meter(&m), text);
    }
    for (text, part) in [
        ("meter=1,pktps,bands=type=dscp_remark,rate=1", "type"),
        ("meter=1,bands=type=drop,rate=1", "meter"),
        ("meter=1,kbps,bands=type=drop", "rate"),
        ("meter=0,kbps,bands=type=drop,rate=1", "meter"),
    ] {
        assert_eq!(parse_meter(text).expect_err(text).part, part, "{text}");
    }
}
