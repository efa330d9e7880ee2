//! The router and the filters under load, per core.
//!
//! - `route_v4`: IPv4 packets between two connected subnets, 1,024
//!   destinations (all resolved), 100 static routes in the table; each
//!   packet parsed, looked up, TTL decremented, its frame rebuilt.
//! - `route_v4_acl`: the same through a stateful forward ACL (an
//!   established-first rule set over 1,024 tracked UDP flows).
//! - `acl_stateless_10`: a ten-rule stateless list, evaluation alone.
//!
//! Run with `cargo bench -p vepa-dataplane --bench router`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::net::Ipv4Addr;
use std::sync::Arc;
use vepa_dataplane::conntrack::Side;
use vepa_dataplane::filter::{Acl, AclAction, AclRule, L3Packet, Zone};
use vepa_dataplane::router::{RouteConfig, Router, RouterConfig, RouterFilter, RouterPortConfig};
use vepa_dataplane::Parsed;
use vepa_packet::ip;
use vepa_packet::{MacAddr, VirtioNetHdr};

const RA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 1]);
const RB: MacAddr = MacAddr([2, 0, 0, 0, 0xb, 1]);
const HA: MacAddr = MacAddr([2, 0, 0, 0, 0xa, 2]);
const FLOWS: u16 = 1024;

fn router() -> Router {
    let mut routes = Vec::new();
    for i in 0..100u32 {
        routes.push(RouteConfig {
            prefix: format!("172.{}.{}.0/24", 16 + i / 256, i % 256)
                .parse()
                .expect("prefix"),
            via: Some("10.2.0.254".parse().expect("ip")),
            port: None,
        });
    }
    let cfg = RouterConfig {
        name: "bench".into(),
        ports: vec![
            RouterPortConfig {
                name: "a".into(),
                mac: RA,
                addresses: vec!["10.1.0.1/16".parse().expect("addr")],
                mtu: 1500,
                peer_mac: None,
            },
            RouterPortConfig {
                name: "b".into(),
                mac: RB,
                addresses: vec!["10.2.0.1/16".parse().expect("addr")],
                mtu: 1500,
                peer_mac: None,
            },
        ],
        routes,
    };
    let r = Router::new(&cfg).expect("router");
    // Resolve every destination (ARP replies from B's hosts).
    let mut out = Vec::new();
    for i in 0..FLOWS {
        let ip = Ipv4Addr::new(10, 2, (i >> 8) as u8, i as u8);
        let mac = MacAddr([2, 0, 0, 0xb, (i >> 8) as u8, i as u8]);
        let mut f = Vec::new();
        ip::write_ethernet(&mut f, MacAddr::BROADCAST, mac, 0x0806);
        f.extend_from_slice(&ip::arp(
            1,
            mac,
            ip,
            MacAddr::ZERO,
            Ipv4Addr::new(10, 2, 0, 1),
        ));
        if let Some(p) = Parsed::new(&f) {
            r.receive(1, &p, &VirtioNetHdr::default(), 0, &mut out);
        }
    }
    r
}

fn packets() -> Vec<Vec<u8>> {
    (0..FLOWS)
        .map(|i| {
            let mut f = Vec::new();
            ip::write_ethernet(&mut f, RA, HA, 0x0800);
            let udp = [0x30, 0x39, 0, 53, 0, 72, 0, 0];
            let mut payload = udp.to_vec();
            payload.extend_from_slice(&[0u8; 64]);
            ip::push_ipv4(
                &mut f,
                Ipv4Addr::new(10, 1, 0, 2),
                Ipv4Addr::new(10, 2, (i >> 8) as u8, i as u8),
                ip::PROTO_UDP,
                64,
                i,
                &payload,
            );
            f
        })
        .collect()
}

fn run(c: &mut Criterion, name: &str, r: &Router) {
    let pkts = packets();
    let hdr = VirtioNetHdr::default();
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    let mut out = Vec::with_capacity(4);
    g.bench_function(name, |b| {
        b.iter(|| {
            for p in &pkts {
                out.clear();
                if let Some(p) = Parsed::new(black_box(p)) {
                    r.receive(0, &p, &hdr, 1, &mut out);
                }
                black_box(&out);
            }
        })
    });
    g.finish();
}

fn rules(text: &[&str]) -> Vec<AclRule> {
    text.iter().map(|r| r.parse().expect("rule")).collect()
}

fn bench(c: &mut Criterion) {
    let r = router();
    run(c, "route_v4", &r);
    let acl = Acl::new(
        "fw",
        rules(&[
            "allow state established,related",
            "allow udp src 10.1.0.0/16 dst 10.2.0.0/16 dport 53",
        ]),
        AclAction::Drop,
        true,
    );
    r.set_filter(Some(RouterFilter {
        acl: Arc::new(acl),
        zone: Arc::new(Zone::new(65536)),
    }));
    run(c, "route_v4_acl", &r);

    let list = Acl::new(
        "ten",
        rules(&[
            "drop src 192.0.2.0/24",
            "allow tcp dport 22 src 10.9.0.0/16",
            "reject tcp dport 23",
            "allow icmp type 8",
            "allow tcp dport 80",
            "allow tcp dport 443",
            "drop udp dport 137-139",
            "allow udp dport 123",
            "allow ip6 icmp6",
            "allow udp dport 53",
        ]),
        AclAction::Drop,
        false,
    );
    let zone = Zone::new(1);
    let pkts: Vec<L3Packet> = packets()
        .iter()
        .filter_map(|f| Parsed::new(f).and_then(|p| p.l3().copied()))
        .collect();
    let mut g = c.benchmark_group("acl");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("acl_stateless_10", |b| {
        b.iter(|| {
            for p in &pkts {
                black_box(list.evaluate(black_box(p), &zone, 1, Side::Any));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
