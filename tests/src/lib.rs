//! The namespace harness shared by vepa's root integration tests.
//!
//! Every test builds its own hosts as network namespaces with unique names,
//! wires them with veths (or lets `vepa run` do it), sends real frames and
//! looks at what arrived. Each thing made is held by a guard whose `Drop`
//! removes it, so a failing assertion still cleans up. Nothing here touches
//! a device it did not create.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vepa_io::{PacketPort, Port, RxBatch};
use vepa_packet::{ArpOperation, ArpPacket, EtherType, EthernetFrame, MacAddr};

pub mod daemon;
pub mod etcd;
pub mod evb;
pub mod guest;
pub mod lldpad;
pub mod pki;
pub mod topo;

/// Fails the test early, clearly, when not run as root.
pub fn require_root() {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "integration tests create namespaces and devices: run them as root (scripts/test.sh)"
    );
}

/// A short id unique to this process and call, for device and namespace names
/// (interface names have 15 characters at most).
pub fn uid() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:04x}{:x}",
        std::process::id() & 0xffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The release binary under test.
pub fn vepa_bin() -> PathBuf {
    let p = std::env::var_os("VEPA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/vepa")
        });
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build --release) or set VEPA_BIN",
        p.display()
    );
    p
}

/// Runs a command and returns its output, panicking with its stderr on failure.
/// Runs `cmd` with `sh -c` inside namespace `ns`, panicking with its stderr on failure.
pub fn ns_sh(ns: &str, cmd: &str) -> Output {
    sh(&["ip", "netns", "exec", ns, "sh", "-c", cmd])
}

pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command and ignores failure (for cleanup).
pub fn sh_quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A network namespace removed on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        sh(&["ip", "netns", "add", name]);
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
        Netns {
            name: name.to_string(),
        }
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    pub fn mac(&self, ifname: &str) -> MacAddr {
        let out = self.exec(&["cat", &format!("/sys/class/net/{ifname}/address")]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a MAC address")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        sh_quiet(&["ip", "netns", "del", &self.name]);
    }
}

pub fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

pub fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether vepa's XDP program (`vepa_xsk`) sits on `link` (in the root
/// namespace), waiting up to 5 s for the port to open.
pub fn has_xdp(link: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new("ip")
            .args(["link", "show", "dev", link])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if out.contains("name vepa_xsk") {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Links in the root namespace removed on drop (best effort; a link that
/// is already gone is fine).
pub struct Links(pub Vec<String>);

impl Drop for Links {
    fn drop(&mut self) {
        for l in &self.0 {
            if link_exists(l) {
                sh_quiet(&["ip", "link", "del", l]);
            }
        }
    }
}

/// Runs `f` on a thread that has entered namespace `ns`.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on this thread only, with a valid namespace fd.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Sends raw frames out of `ifname` in namespace `ns`.
pub fn send_frames(ns: &str, ifname: &str, frames: Vec<Vec<u8>>) {
    let ifname = ifname.to_string();
    in_netns(ns, move || {
        let p = PacketPort::open(&ifname, false).expect("open raw socket");
        for f in frames {
            p.send(&Default::default(), &f).expect("send raw frame");
        }
    })
    .join()
    .expect("sender thread");
}

/// `vepa run` on `topology`, which it must refuse: what it said on stderr.
pub fn run_refused(topology: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("refused.toml");
    std::fs::write(&file, topology).expect("write topology");
    let out = Command::new(vepa_bin())
        .args(["run", "--file"])
        .arg(&file)
        .output()
        .expect("run vepa");
    assert!(
        !out.status.success(),
        "vepa run took it: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Everything received (inbound only) on one interface until stopped.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Vec<u8>>>>,
}

impl Capture {
    pub fn start(ns: &str, ifname: &str) -> Capture {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let ifname = ifname.to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_netns(ns, move || {
            let p = PacketPort::open(&ifname, false).expect("open capture socket");
            let _ = ready_tx.send(());
            let mut frames = Vec::new();
            let mut batch = RxBatch::new(32);
            loop {
                // Once told to stop, read what is queued, then end.
                let stopping = s.load(Ordering::Relaxed);
                match p.recv_batch(&mut batch) {
                    Ok(0) if stopping => break,
                    Ok(0) => std::thread::sleep(Duration::from_millis(2)),
                    Ok(n) => frames.extend((0..n).map(|i| batch.slot(i).frame().to_vec())),
                    Err(e) => panic!("capture on {ifname}: {e}"),
                }
            }
            frames
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        Capture {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Vec<Vec<u8>> {
        // Frames still on their way through the switch.
        std::thread::sleep(Duration::from_millis(50));
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("capture thread"))
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An ARP request frame (broadcast) from `mac`/`sender` asking for `target`.
pub fn arp_request(mac: MacAddr, sender: [u8; 4], target: [u8; 4], vlan: Option<u16>) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MacAddr::BROADCAST.0);
    f.extend_from_slice(&mac.0);
    if let Some(v) = vlan {
        f.extend_from_slice(&EtherType::VLAN.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&EtherType::ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&sender);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

/// The ARP requests in `frames` asking for `target`, with the VLAN tag each carried.
pub fn arp_requests_for(frames: &[Vec<u8>], target: [u8; 4]) -> Vec<Option<u16>> {
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            if e.ethertype() != EtherType::ARP {
                return None;
            }
            let a = ArpPacket::new_checked(e.payload()).ok()?;
            (a.operation() == ArpOperation::Request && a.target_ip().octets() == target)
                .then(|| e.vlan().map(|t| t.vid))
        })
        .collect()
}

/// Pings `ip` from namespace `ns`: true when any of three echoes is answered.
pub fn ping(ns: &str, ip: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", ip,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The byte at `i` of the test stream: cheap to make, and a reordered,
/// duplicated or corrupted byte shows.
fn stream_byte(i: u64) -> u8 {
    let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8 ^ (i as u8)
}

/// Sends `len` bytes over TCP from namespace `from` to `to_ip:port` in
/// namespace `to`, and checks every byte that arrives. Returns the number of
/// bytes received intact within 60 seconds; panics on the first corrupted one.
pub fn tcp_transfer(from: &str, to: &str, to_ip: &str, port: u16, len: u64) -> u64 {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = format!("{to_ip}:{port}").parse().expect("address");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = in_netns(to, move || {
        let l = std::net::TcpListener::bind(addr).expect("listen");
        let _ = ready_tx.send(());
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = vec![0u8; 1 << 16];
        let mut at = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(
                    *b,
                    stream_byte(at + k as u64),
                    "byte {} corrupted",
                    at + k as u64
                );
            }
            at += n as u64;
        }
        at
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("server ready");
    in_netns(from, move || {
        let mut s =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = vec![0u8; 1 << 16];
        let mut at = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while at < len && Instant::now() < deadline {
            let n = (len - at).min(buf.len() as u64) as usize;
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = stream_byte(at + k as u64);
            }
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
            at += n as u64;
        }
    })
    .join()
    .expect("client thread");
    server.join().expect("server thread")
}

/// Pings until `ip` answers from `ns`, for up to ten seconds.
pub fn wait_reachable(ns: &str, ip: &str) -> bool {
    wait_reachable_for(ns, ip, Duration::from_secs(10))
}

/// Pings until `ip` answers from `ns`, for up to `limit`.
pub fn wait_reachable_for(ns: &str, ip: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let ok = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", ip])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return true;
        }
    }
    false
}

/// Runs one iperf3 test from `client_ns` to a one-shot server at
/// `server_ip` in `server_ns`, with `args` added to the client; returns the
/// client's JSON report. Bounded: a test that cannot connect ends, and the
/// server is killed if it is still waiting.
pub fn iperf3(
    client_ns: &str,
    server_ns: &str,
    server_ip: &str,
    args: &[&str],
) -> serde_json::Value {
    let mut server = Command::new("ip")
        .args([
            "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", server_ip,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iperf3 server (apt-get install iperf3)");
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new("timeout")
        .args([
            "20",
            "ip",
            "netns",
            "exec",
            client_ns,
            "iperf3",
            "--connect-timeout",
            "3000",
            "-J",
            "-c",
            server_ip,
        ])
        .args(args)
        .output()
        .expect("run iperf3 client");
    std::thread::sleep(Duration::from_millis(200));
    if !matches!(server.try_wait(), Ok(Some(_))) {
        let _ = server.kill();
    }
    let _ = server.wait();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Pings every ordered pair of `hosts` (namespace, address) at once.
pub fn reach_matrix(hosts: &[(String, String)]) -> Vec<Vec<bool>> {
    let mut children: Vec<(usize, usize, Child)> = Vec::new();
    for (a, (ns, _)) in hosts.iter().enumerate() {
        for (b, (_, ip)) in hosts.iter().enumerate() {
            if a != b {
                let c = Command::new("ip")
                    .args([
                        "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", ip,
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start ping");
                children.push((a, b, c));
            }
        }
    }
    let mut m = vec![vec![true; hosts.len()]; hosts.len()];
    for (a, b, mut c) in children {
        m[a][b] = c.wait().map(|s| s.success()).unwrap_or(false);
    }
    m
}

/// `vepa run` on a topology file, stopped (SIGTERM) on drop.
pub struct Vepa {
    child: Option<Child>,
    pub stats_path: PathBuf,
    _dir: tempfile::TempDir,
    /// Links vepa makes in the root namespace, removed if vepa could not.
    _links: Links,
}

impl Vepa {
    /// Starts vepa and waits until every interface in `expect_links` exists.
    pub fn start(topology: &str, expect_links: &[String]) -> Vepa {
        Vepa::start_in(None, topology, expect_links)
    }

    /// Starts vepa inside namespace `netns` (or vepa's own when `None`) and
    /// waits until every interface in `expect_links` exists there.
    pub fn start_in(netns: Option<&str>, topology: &str, expect_links: &[String]) -> Vepa {
        Vepa::start_with(netns, &[], topology, expect_links)
    }

    /// As [`start_in`](Self::start_in), with extra arguments for `vepa run`.
    pub fn start_with(
        netns: Option<&str>,
        args: &[&str],
        topology: &str,
        expect_links: &[String],
    ) -> Vepa {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("topology.toml");
        std::fs::write(&file, topology).expect("write topology");
        let stats_path = dir.path().join("stats.json");
        let mut cmd = match netns {
            Some(ns) => {
                // `ip netns exec` enters the namespace and execs vepa: same pid.
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(vepa_bin());
                c
            }
            None => Command::new(vepa_bin()),
        };
        let exists = |l: &String| match netns {
            None => link_exists(l),
            Some(ns) => Command::new("ip")
                .args(["-n", ns, "link", "show", "dev", l])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        };
        let log = dir.path().join("stdout");
        let child = cmd
            .arg("run")
            .arg("-f")
            .arg(&file)
            .arg("--stats-json")
            .arg(&stats_path)
            .args(args)
            .stdout(File::create(&log).expect("stdout file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vepa");
        let mut v = Vepa {
            child: Some(child),
            stats_path,
            _dir: dir,
            // Links inside a test's namespace go with the namespace.
            _links: Links(if netns.is_none() {
                expect_links.to_vec()
            } else {
                Vec::new()
            }),
        };
        // vepa says "forwarding" once every port is open.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            if said.contains("forwarding") && expect_links.iter().all(exists) {
                break;
            }
            if let Some(c) = v.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    panic!("vepa exited early ({status}): {err}\n{topology}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "vepa did not start forwarding in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        v
    }

    /// The vepa process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Stops vepa and returns its final counters.
    pub fn stop(mut self) -> serde_json::Value {
        self.terminate();
        let text = std::fs::read_to_string(&self.stats_path).expect("vepa wrote its stats");
        serde_json::from_str(&text).expect("stats JSON")
    }

    fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}

impl Drop for Vepa {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// One port's counter from `vepa run --stats-json` output.
pub fn counter(stats: &serde_json::Value, switch: &str, port: &str, key: &str) -> u64 {
    let sw = stats["switches"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == switch))
        .unwrap_or_else(|| panic!("no switch {switch} in {stats}"));
    let p = sw["ports"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == port))
        .unwrap_or_else(|| panic!("no port {port} in {sw}"));
    p.get(key)
        .or_else(|| p["drops"].get(key))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

/// A loopback TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts TCP connections on loopback `port`.
/// A command run as user nobody (`setpriv`) with primary group `gid` and
/// supplementary `groups` (comma-separated; none if empty): a local user
/// who is not root, to check who a socket lets in.
pub fn as_nobody(gid: u32, groups: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", &format!("--regid={gid}")]);
    if groups.is_empty() {
        c.arg("--clear-groups");
    } else {
        c.arg(format!("--groups={groups}"));
    }
    c
}

pub fn wait_listening(port: u16) -> bool {
    wait_listening_for(port, Duration::from_secs(10))
}

/// Whether something accepts TCP on 127.0.0.1:`port` within `within`.
pub fn wait_listening_for(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Reads one OpenFlow message (a controller's side of a connection).
pub fn read_openflow(
    s: &mut impl std::io::Read,
) -> Option<(vepa_openflow::Header, vepa_openflow::Message)> {
    let mut head = [0u8; 8];
    s.read_exact(&mut head).ok()?;
    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
    let mut buf = head.to_vec();
    buf.resize(len.max(8), 0);
    s.read_exact(&mut buf[8..]).ok()?;
    vepa_openflow::decode(&buf).ok()
}

/// A small deterministic generator (xorshift), so a failure repeats from
/// its seed.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One of `from`, chosen by the next number.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }
}
