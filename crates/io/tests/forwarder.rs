//! The forwarder over in-memory ports: frames go in at a port's wire and
//! the test reads what comes out at the others', no namespaces, no root.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use vepa_dataplane::{PortConfig, PortId, PortMode, PortRole, Switch, SwitchConfig};
use vepa_io::loopback::{loopback, LoopbackWire};
use vepa_io::{Attachment, Forwarder, Workers};

const WAIT: Duration = Duration::from_millis(500);
const QUIET: Duration = Duration::from_millis(100);

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// An Ethernet frame from `src` to `dst`, 60 bytes.
fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(60, 0xab);
    f
}

/// A forwarder running one switch whose ports have `modes` (the first is
/// the uplink), and the wires to them; stops on drop.
struct Rig {
    wires: Vec<LoopbackWire>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Rig {
    fn new(modes: &[PortMode]) -> Rig {
        Rig::with_workers(modes, Workers::from(1))
    }

    fn with_workers(modes: &[PortMode], workers: Workers) -> Rig {
        let mut ports = vec![PortConfig::new("up", PortRole::Uplink)];
        for (i, m) in modes.iter().enumerate() {
            ports.push(PortConfig::new(format!("vm{i}"), PortRole::Downlink(*m)));
        }
        let switch = Switch::new(SwitchConfig::new("s", ports.clone())).expect("switch");
        let mut wires = Vec::new();
        let mut attachments = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let (port, wire) = loopback(&p.name).expect("socket pair");
            wires.push(wire);
            attachments.push(Attachment {
                port: Arc::new(port),
                switch: 0,
                id: PortId(i as u16),
                affinity: None,
                capture: Default::default(),
            });
        }
        let mut fwd = Forwarder::new(vec![switch], attachments);
        fwd.set_workers(workers);
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            fwd.run(&s).expect("forwarder");
        });
        Rig {
            wires,
            stop,
            thread: Some(thread),
        }
    }

    /// What port `i` sent within `wait`.
    fn got(&self, i: usize, wait: Duration) -> Option<Vec<u8>> {
        self.wires[i].recv(wait).expect("recv")
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn veb_floods_then_switches_by_what_it_learned() {
    let rig = Rig::new(&[PortMode::Veb, PortMode::Veb]);
    // vm0 → broadcast: vm1 and the uplink get it, vm0 does not.
    let b = frame([0xff; 6], mac(1));
    rig.wires[1].send(&b).expect("send");
    assert_eq!(rig.got(2, WAIT).as_deref(), Some(&b[..]));
    assert_eq!(rig.got(0, WAIT).as_deref(), Some(&b[..]));
    assert_eq!(rig.got(1, QUIET), None);
    // vm1 → vm0 (learned): to vm0 alone, never to the uplink.
    let u = frame(mac(1), mac(2));
    rig.wires[2].send(&u).expect("send");
    assert_eq!(rig.got(1, WAIT).as_deref(), Some(&u[..]));
    assert_eq!(rig.got(0, QUIET), None);
}

/// Workers that never sleep forward the same (each port's frames may meet
/// another worker's), and still stop when told (the rig's drop joins them).
#[test]
fn busy_polling_workers_forward_the_same_and_stop() {
    let rig = Rig::with_workers(
        &[PortMode::Veb, PortMode::Veb],
        Workers {
            count: 2,
            busy_poll: true,
        },
    );
    let b = frame([0xff; 6], mac(1));
    rig.wires[1].send(&b).expect("send");
    assert_eq!(rig.got(2, WAIT).as_deref(), Some(&b[..]));
    assert_eq!(rig.got(0, WAIT).as_deref(), Some(&b[..]));
    for _ in 0..100 {
        let u = frame(mac(1), mac(2));
        rig.wires[2].send(&u).expect("send");
        assert_eq!(rig.got(1, WAIT).as_deref(), Some(&u[..]));
    }
    assert_eq!(rig.got(0, QUIET), None);
}

#[test]
fn vepa_sends_vm_to_vm_up_the_uplink() {
    let rig = Rig::new(&[PortMode::Vepa, PortMode::Vepa]);
    // Both VMs known to the switch.
    rig.wires[1].send(&frame([0xff; 6], mac(1))).expect("send");
    rig.wires[2].send(&frame([0xff; 6], mac(2))).expect("send");
    while rig.got(0, QUIET).is_some() {}
    // vm0 → vm1 goes up, not across.
    let u = frame(mac(2), mac(1));
    rig.wires[1].send(&u).expect("send");
    assert_eq!(rig.got(0, WAIT).as_deref(), Some(&u[..]));
    assert_eq!(rig.got(2, QUIET), None);
    // Reflected back by the adjacent bridge, it reaches vm1 only.
    rig.wires[0].send(&u).expect("send");
    assert_eq!(rig.got(2, WAIT).as_deref(), Some(&u[..]));
    assert_eq!(rig.got(1, QUIET), None);
}

/// Two switches, a (vm: loopback) and b (vm: loopback), joined by a wire
/// whose ends the forwarder crosses in memory. A frame from a's VM
/// reaches b's; one written into an end from outside the loop (as the
/// daemon's OpenFlow packet-out does) enters the far switch too.
#[test]
fn a_wire_between_two_switches_carries_frames_both_ways() {
    let sw = |n: &str| {
        Switch::new(SwitchConfig::new(
            n,
            vec![
                PortConfig::new("vm", PortRole::Downlink(PortMode::Veb)),
                PortConfig::new("w", PortRole::Downlink(PortMode::Veb)),
            ],
        ))
        .expect("switch")
    };
    let (va, wa) = loopback("va").expect("socket pair");
    let (vb, wb) = loopback("vb").expect("socket pair");
    let (ea, eb) = vepa_io::wire("wa", "wb").expect("wire");
    let ea = Arc::new(ea);
    let outside = Arc::clone(&ea);
    let attach = |port: Arc<dyn vepa_io::Port>, switch: usize, id: u16| Attachment {
        port,
        switch,
        id: PortId(id),
        affinity: None,
        capture: Default::default(),
    };
    let attachments = vec![
        attach(Arc::new(va), 0, 0),
        attach(ea, 0, 1),
        attach(Arc::new(vb), 1, 0),
        attach(Arc::new(eb), 1, 1),
    ];
    let mut fwd = Forwarder::new(vec![sw("a"), sw("b")], attachments);
    fwd.set_workers(1);
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let t = thread::spawn(move || fwd.run(&s).expect("forwarder"));

    let f = frame(mac(2), mac(1));
    wa.send(&f).expect("send");
    assert_eq!(wb.recv(WAIT).expect("recv"), Some(f.clone()));
    // Nothing comes back to the sender.
    assert_eq!(wa.recv(QUIET).expect("recv"), None);
    // Sent into a's end of the wire from outside: it arrives at b's end
    // and b switches it to its VM.
    let g = frame(mac(3), mac(4));
    vepa_io::Port::send(outside.as_ref(), &Default::default(), &g).expect("send");
    assert_eq!(wb.recv(WAIT).expect("recv"), Some(g));

    stop.store(true, Ordering::Relaxed);
    t.join().expect("forwarder thread");
}
