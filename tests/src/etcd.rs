//! A real etcd (Debian's `etcd-server`) of a test's own: in a namespace
//! the test made, on an address there, its data in a temporary directory;
//! stopped, started again on the same data, and killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Etcd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub netns: String,
    pub ip: String,
    pub port: u16,
}

impl Etcd {
    /// Starts etcd in `netns`, listening for clients on `ip:port` (and its
    /// peer port on the namespace's loopback), and waits until it answers.
    pub fn start(netns: &str, ip: &str, port: u16) -> Etcd {
        let mut e = Etcd {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            netns: netns.to_string(),
            ip: ip.to_string(),
            port,
        };
        e.launch();
        e
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}", self.ip, self.port)
    }

    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "etcd already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .expect("log");
        let url = self.url();
        let peer = format!("http://127.0.0.1:{}", self.port + 1);
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, "etcd"])
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("t={peer}")])
            .env("ETCD_UNSUPPORTED_ARCH", "")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd (Debian's etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.healthy() {
            assert!(
                Instant::now() < deadline,
                "etcd did not come up in 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `etcdctl ARGS` in the namespace, against this etcd.
    fn etcdctl(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, "etcdctl", "--endpoints"])
            .arg(self.url())
            .args(args)
            .env("ETCDCTL_API", "3");
        c
    }

    /// `etcdctl endpoint health` in the namespace.
    pub fn healthy(&self) -> bool {
        self.etcdctl(&["--dial-timeout", "1s", "endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Stops etcd (SIGKILL: what an outage looks like to clients).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// Keys under `prefix`, as etcdctl lists them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .etcdctl(&["get", "--prefix", "--keys-only", prefix])
            .output()
            .expect("etcdctl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
