//! A `vepa daemon` of a test's own: its state directory and socket in a
//! temporary directory, driven through the CLI and raw HTTP, stopped on
//! drop after an empty desired state has removed every device it made.

use crate::{link_exists, sh_quiet, vepa_bin};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub state: PathBuf,
    extra: Vec<String>,
    /// Root-namespace links a test expects the daemon to make, removed on
    /// drop if the daemon could not.
    pub links: Vec<String>,
    /// Environment for the next launch.
    pub env: Vec<(String, String)>,
    /// The namespace the daemon runs in (its devices and sockets there).
    pub netns: Option<String>,
    /// A command the daemon runs under (e.g. setpriv with a unit's limits).
    pub wrap: Vec<String>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// Starts a daemon inside namespace `ns` (a "host" of a multi-host test).
    pub fn start_in(ns: &str) -> Daemon {
        Daemon::make(&[], Some(ns))
    }

    /// Starts a daemon inside namespace `ns` with extra arguments.
    pub fn start_in_with(ns: &str, args: &[&str]) -> Daemon {
        Daemon::make(args, Some(ns))
    }

    /// Starts a daemon with extra arguments (`--listen`, `--group`...).
    pub fn start_with(args: &[&str]) -> Daemon {
        Daemon::make(args, None)
    }

    /// Starts a daemon under `wrap` (a command that execs the rest of its
    /// arguments) with `env` added.
    pub fn start_wrapped(wrap: &[&str], env: &[(&str, &str)], args: &[&str]) -> Daemon {
        Daemon::build(args, None, wrap, env)
    }

    fn make(args: &[&str], netns: Option<&str>) -> Daemon {
        Daemon::build(args, netns, &[], &[])
    }

    fn build(args: &[&str], netns: Option<&str>, wrap: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("vepa.sock");
        let state = dir.path().join("state");
        let mut d = Daemon {
            child: None,
            dir,
            socket,
            state,
            extra: args.iter().map(|s| s.to_string()).collect(),
            links: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            netns: netns.map(str::to_string),
            wrap: wrap.iter().map(|s| s.to_string()).collect(),
        };
        d.launch();
        d
    }

    /// Starts (again) on the same state directory and waits until the API answers.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("log file");
        let mut cmd = match &self.netns {
            // `ip netns exec` execs vepa: the child's pid is the daemon's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(vepa_bin());
                c
            }
            None if !self.wrap.is_empty() => {
                let mut c = Command::new(&self.wrap[0]);
                c.args(&self.wrap[1..]).arg(vepa_bin());
                c
            }
            None => Command::new(vepa_bin()),
        };
        let child = cmd
            .arg("--socket")
            .arg(&self.socket)
            .arg("daemon")
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--workers")
            .arg("1")
            .arg("--vhost-user-dir")
            .arg(self.vhost_dir())
            .args(&self.extra)
            .env("RUST_LOG", "vepa=info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start vepa daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = self.http("GET", "/v1/stats", None) {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    panic!("vepa daemon exited ({st}) at start:\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "vepa daemon did not answer within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// This daemon's vhost-user directory (`--vhost-user-dir`): a port's
    /// socket is SWITCH/PORT.sock there unless it names one inside it.
    pub fn vhost_dir(&self) -> PathBuf {
        self.dir.path().join("vu")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `vepa --socket S ARGS...`
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(vepa_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run vepa")
    }

    /// The CLI, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "vepa {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The CLI, which must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            !out.status.success(),
            "vepa {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&v)).expect("JSON from -o json")
    }

    /// One raw HTTP/1.1 request on the socket: status and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let s = UnixStream::connect(&self.socket)?;
        http_on(s, method, path, body, None)
    }

    /// `vepa export`, checked to apply back as no change (`--dry-run`);
    /// the exported text, for more assertions.
    pub fn export_reapplies(&self) -> String {
        let export = self.ok(&["export"]);
        let again = self.dir.path().join("again.toml");
        std::fs::write(&again, &export).expect("write export");
        let plan = self.ok(&["apply", "-f", &again.to_string_lossy(), "--dry-run"]);
        assert!(plan.contains("no change"), "{plan}");
        export
    }

    /// The desired state as the daemon reports it.
    pub fn topology(&self) -> serde_json::Value {
        let (status, body) = self
            .http("GET", "/v1/topology", None)
            .expect("GET /v1/topology");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("topology JSON")
    }
}

/// One HTTP/1.1 request on a connected stream (optionally with a bearer token).
pub fn http_on<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: vepa\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // Chunked answers: join the chunks.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((len, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            r = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let empty = self.dir.path().join("empty.toml");
            let _ = std::fs::write(&empty, "");
            let _ = self.cli(&["apply", "-f", empty.to_str().unwrap_or_default()]);
        }
        self.stop();
        for l in &self.links {
            if link_exists(l) {
                sh_quiet(&["ip", "link", "del", l]);
            }
        }
    }
}
