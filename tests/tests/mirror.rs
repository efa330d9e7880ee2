//! Port mirrors with real traffic: a mirror of vm1 both ways to a monitor
//! namespace, where tcpdump must see every frame of a ping exactly once;
//! the same to a VLAN on the uplink (RSPAN), seen tagged beyond it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vepa_itest::daemon::Daemon;
use vepa_itest::{ping, require_root, sh, uid, Netns};

struct Bench {
    d: Daemon,
    sw: String,
    vm1: Netns,
    vm2: Netns,
    mon: Netns,
    out: Netns,
    names: [String; 4],
}

fn build() -> Bench {
    let id = uid();
    let mut d = Daemon::start();
    let sw = format!("ms{id}");
    let [vm1, vm2, mon, out] = ["a", "b", "m", "o"].map(|t| Netns::new(&format!("mn{t}{id}")));
    let names = ["a", "b", "m", "o"].map(|t| format!("m{t}{id}"));
    d.links = names.to_vec();
    d.ok(&["switch", "add", &sw, "--mode", "veb"]);
    d.ok(&[
        "port", "add", &sw, &names[3], "--type", "veth", "--uplink", "--netns", &out.name,
    ]);
    for (i, (name, ns)) in [(&names[0], &vm1), (&names[1], &vm2)]
        .into_iter()
        .enumerate()
    {
        d.ok(&[
            "port",
            "add",
            &sw,
            name,
            "--type",
            "veth",
            "--netns",
            &ns.name,
            "--address",
            &format!("10.33.0.{}/24", i + 1),
        ]);
    }
    d.ok(&[
        "port", "add", &sw, &names[2], "--type", "veth", "--netns", &mon.name,
    ]);
    for ns in [&vm1, &vm2, &mon, &out] {
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    }
    Bench {
        d,
        sw,
        vm1,
        vm2,
        mon,
        out,
        names,
    }
}

/// tcpdump writing what `eth0` in `ns` receives to a file.
struct Tcpdump {
    child: Child,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tcpdump {
    fn start(ns: &Netns) -> Tcpdump {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("mon.pcap");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.name,
                "tcpdump",
                "-Z",
                "root",
                "--immediate-mode",
                "-i",
                "eth0",
                "-Q",
                "in",
                "-U",
                "-w",
            ])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("err")).expect("err file"))
            .spawn()
            .expect("tcpdump");
        // tcpdump writes its file header once it listens. As root: dropped to
        // its own user, it could not write into a root-only directory; in
        // immediate mode: otherwise a packet waits in a ring block for up to
        // a second, and is lost if tcpdump is stopped first.
        for _ in 0..100 {
            if std::fs::metadata(&file).is_ok_and(|m| m.len() >= 24) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        Tcpdump {
            child,
            file,
            _dir: dir,
        }
    }

    /// Stops it; each frame it saw as `tcpdump -e -nn` prints it.
    fn lines(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let out = sh(&[
            "tcpdump",
            "-e",
            "-nn",
            "-t",
            "-r",
            self.file.to_str().expect("path"),
        ]);
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            eprintln!(
                "tcpdump -r: {out:?}; tcpdump said: {}",
                std::fs::read_to_string(self._dir.path().join("err")).unwrap_or_default()
            );
        }
        lines
    }
}

/// The lines for the ping's echo requests and replies, and whether any
/// line shows up twice (a frame copied twice).
fn echoes(lines: &[String]) -> (usize, usize, Vec<&String>) {
    let req = lines
        .iter()
        .filter(|l| l.contains("ICMP echo request"))
        .count();
    let rep = lines
        .iter()
        .filter(|l| l.contains("ICMP echo reply"))
        .count();
    let mut twice = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if lines[..i].contains(l) {
            twice.push(l);
        }
    }
    (req, rep, twice)
}

#[test]
fn span_and_rspan_show_every_frame_of_a_ping_once() {
    require_root();
    let b = build();
    // ARP resolved first, so the mirrored ping is just the ping.
    assert!(ping(&b.vm1.name, "10.33.0.2"), "vm1 reaches vm2");
    b.d.ok(&[
        "mirror",
        "add",
        &b.sw,
        "watch",
        "--select",
        &b.names[0],
        "--output-port",
        &b.names[2],
    ]);
    let dump = Tcpdump::start(&b.mon);
    let o = b
        .vm1
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.33.0.2"]);
    assert!(o.status.success(), "ping with the mirror on: {o:?}");
    let lines = dump.lines();
    let (req, rep, twice) = echoes(&lines);
    assert_eq!(
        (req, rep),
        (3, 3),
        "three requests and three replies: {lines:#?}\n{}\n{:?}",
        b.d.ok(&["mirror", "show"]) + &b.d.ok(&["stats"]),
        b.mon.exec(&["ip", "-s", "link", "show", "eth0"])
    );
    assert!(twice.is_empty(), "frames copied twice: {twice:#?}");
    // The monitor port gets nothing but the mirror's copies (vm2's ARP or
    // a flood would show here), and what it sends goes nowhere.
    assert!(
        lines
            .iter()
            .all(|l| l.contains(&b.vm1.mac("eth0").to_string())),
        "only vm1's frames: {lines:#?}"
    );
    let shown = b.d.json(&["mirror", "show"]);
    let packets = shown[0]["packets"].as_u64().unwrap_or(0);
    assert!(packets >= 6, "the mirror counted its copies: {shown}");
    let (status, metrics) = b.d.http("GET", "/metrics", None).expect("GET /metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "vepa_mirror_packets_total{{switch=\"{}\",mirror=\"watch\"}} {packets}",
            b.sw
        )),
        "{metrics}"
    );

    // RSPAN: the same, up the uplink tagged 999.
    b.d.ok(&["mirror", "del", &b.sw, "watch"]);
    b.d.ok(&[
        "mirror",
        "add",
        &b.sw,
        "remote",
        "--select",
        &b.names[0],
        "--output-vlan",
        "999",
    ]);
    let dump = Tcpdump::start(&b.out);
    let o = b
        .vm1
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.33.0.2"]);
    assert!(o.status.success(), "ping with RSPAN on: {o:?}");
    let lines = dump.lines();
    let tagged: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("vlan 999"))
        .cloned()
        .collect();
    let (req, rep, twice) = echoes(&tagged);
    assert_eq!(
        (req, rep),
        (3, 3),
        "tagged copies on the uplink: {lines:#?}"
    );
    assert!(twice.is_empty(), "frames copied twice: {twice:#?}");
    let _ = &b.vm2;
}
