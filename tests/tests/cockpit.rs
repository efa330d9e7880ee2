//! vepa's Cockpit page (`integrations/cockpit/`) in a real browser.
//! cockpit-ws serves a copy of this checkout's page (found through
//! XDG_DATA_DIRS: nothing is installed) with a bridge of the user it runs
//! as; headless Chromium loads it and is driven over the DevTools protocol;
//! the page talks to a daemon on its embedded default topology.
//!
//! A local session has no login, so cockpit-ws and Chromium run in a
//! network namespace of the test's own, with only its loopback: no other
//! user of the machine can reach that session. The DevTools protocol runs
//! over a pipe (`--remote-debugging-pipe`), not a port. The daemon's API
//! is a unix socket, reached by path from any namespace.

use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vepa_itest::daemon::Daemon;
use vepa_itest::{netns_exists, require_root, uid, wait_reachable, Netns};

/// A process group killed whole when dropped (Chromium and cockpit-ws
/// both start children of their own).
struct Group(Child);

impl Group {
    fn spawn(cmd: &mut Command, what: &str) -> Group {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        Group(child)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test started; no memory involved.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// cockpit-ws on `port` of namespace `ns`'s loopback with a local session
/// (no login), run through `wrap` (e.g. setpriv to another user), serving
/// a copy of this checkout's page as package "vepa".
struct Cockpit {
    _ws: Group,
    port: u16,
    _data: tempfile::TempDir,
}

fn cockpit(ns: &Netns, port: u16, wrap: &[&str]) -> Cockpit {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/cockpit");
    let data = tempfile::tempdir().expect("tempdir");
    let pkg = data.path().join("cockpit/vepa");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    // A copy, not a link: another user must read it, and a checkout under
    // /root is closed to others.
    for f in ["manifest.json", "index.html", "vepa.js", "vepa.css"] {
        std::fs::copy(page.join(f), pkg.join(f)).expect("copy the page");
    }
    for d in [data.path(), &data.path().join("cockpit"), &pkg] {
        chmod(d, 0o755);
    }
    let ws = "/usr/lib/cockpit/cockpit-ws";
    assert!(
        Path::new(ws).exists(),
        "{ws} is missing: scripts/test.sh installs cockpit-ws and cockpit-bridge"
    );
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name])
        .args(wrap)
        .arg(ws)
        .args(["--no-tls", "--local-session=cockpit-bridge", "--address"])
        .args(["127.0.0.1", "--port", &port.to_string()])
        .env(
            "XDG_DATA_DIRS",
            format!("{}:/usr/share", data.path().display()),
        )
        .env("HOME", data.path())
        .current_dir(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let ws = Group::spawn(&mut cmd, "cockpit-ws");
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ns.exec_ok(&["bash", "-c", &probe]) {
        assert!(
            Instant::now() < deadline,
            "cockpit-ws did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Cockpit {
        _ws: ws,
        port,
        _data: data,
    }
}

trait ExecOk {
    fn exec_ok(&self, args: &[&str]) -> bool;
}

impl ExecOk for Netns {
    fn exec_ok(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A pipe's two ends (close-on-exec).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just made by pipe2 and are owned here alone.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Headless Chromium with one page, driven over the DevTools protocol on
/// its pipe (NUL-separated JSON; one flat session for the page).
struct Browser {
    to: File,
    from: mpsc::Receiver<Value>,
    session: String,
    next: u64,
    _chromium: Group,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(ns: &Netns) -> Browser {
        let profile = tempfile::tempdir().expect("tempdir");
        // Chromium reads commands on fd 3 and writes answers on fd 4.
        let (cmd_r, cmd_w) = pipe();
        let (ans_r, ans_w) = pipe();
        let (r, w) = (cmd_r.as_raw_fd(), ans_w.as_raw_fd());
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name, "chromium"])
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                "--window-size=1360,1020",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls
        // (fcntl, dup2) on descriptors this process owns; each end is
        // first copied above 9 so that the dup2s cannot overwrite it.
        unsafe {
            cmd.pre_exec(move || {
                let hi_r = libc::fcntl(r, libc::F_DUPFD_CLOEXEC, 10);
                let hi_w = libc::fcntl(w, libc::F_DUPFD_CLOEXEC, 10);
                if hi_r < 0 || hi_w < 0 || libc::dup2(hi_r, 3) < 0 || libc::dup2(hi_w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let chromium = Group::spawn(&mut cmd, "chromium (scripts/test.sh installs it)");
        drop((cmd_r, ans_w));
        // Answers are read on a thread, so that a silent browser is a
        // timeout, not a hang.
        let (tx, rx) = mpsc::channel();
        let answers = File::from(ans_r);
        std::thread::spawn(move || {
            let mut r = BufReader::new(answers);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        let mut b = Browser {
            to: File::from(cmd_w),
            from: rx,
            session: String::new(),
            next: 0,
            _chromium: chromium,
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().expect("targetId").to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        b.call("Page.enable", json!({}));
        b
    }

    /// One DevTools command: its result, or the protocol's error.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method} within 30 s"));
            if v["id"].as_u64() != Some(id) {
                continue; // an event
            }
            return match v.get("error") {
                Some(e) => Err(e.clone()),
                None => Ok(v["result"].clone()),
            };
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("DevTools {method}: {e}"))
    }

    /// Opens `url` and waits until it has loaded.
    fn open(&mut self, url: &str) {
        let r = self.call("Page.navigate", json!({"url": url}));
        assert!(r.get("errorText").is_none(), "open {url}: {r}");
        let url = serde_json::to_string(url).expect("JSON");
        self.wait(
            &format!("document.readyState === 'complete' && location.href === {url}"),
            Duration::from_secs(20),
            "the page loads",
        );
    }

    /// A JavaScript expression's value in the page.
    fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("in the page, {expr}: {e}"))
    }

    /// The value, or what went wrong: an exception it threw, or the
    /// protocol's error (no page context yet, during a navigation).
    fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self.try_call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        )?;
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Waits until `expr` is truthy in the page (an exception counts as
    /// not yet: the page may still be building); its value.
    fn wait(&mut self, expr: &str, within: Duration, what: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.try_eval(expr).unwrap_or(Value::Null);
            let truthy = !(v.is_null()
                || v == json!(false)
                || v == json!("")
                || v == json!(0)
                || v.as_array().is_some_and(|a| a.is_empty()));
            if truthy {
                return v;
            }
            if Instant::now() >= deadline {
                let page = self.eval("document.body ? document.body.innerText : ''");
                panic!("{what}: not within {within:?}; the page reads:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The page's problem line, once it shows one.
    fn problem(&mut self, what: &str) -> String {
        let v = self.wait(
            "(() => { const p = document.getElementById('problem'); return !p.hidden && p.textContent })()",
            Duration::from_secs(20),
            what,
        );
        v.as_str().unwrap_or_default().to_string()
    }

    fn screenshot(&mut self, to: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("data"))
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(to, png).expect("write the screenshot");
    }
}

/// JavaScript naming the row of port `p` of switch vepa0.
fn row(p: &str) -> String {
    format!("document.querySelector('#ports tr[data-port=\"vepa0/{p}\"]')")
}

/// The MODE column of `vepa port show` for `port`.
fn mode_shown(d: &Daemon, port: &str) -> String {
    let out = d.ok(&["port", "show"]);
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(port))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .unwrap_or_else(|| panic!("no {port} in:\n{out}"))
}

/// 20 pings a second from vm1 to vm2 (stopped when dropped).
fn steady_ping() -> Group {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", "vepa-vm1", "ping", "-q", "-i", "0.05"])
        .args(["-w", "30", "10.77.0.2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Group::spawn(&mut cmd, "ping")
}

fn page_url(ck: &Cockpit, socket: &Path) -> String {
    format!(
        "http://127.0.0.1:{}/cockpit/@localhost/vepa/index.html?socket={}",
        ck.port,
        socket.display()
    )
}

#[test]
fn the_cockpit_page_drives_the_embedded_default() {
    require_root();
    let id = uid();
    let mut d = Daemon::start_with(&["--default"]);
    d.links = vec!["vepa0-vm1".into(), "vepa0-vm2".into(), "vepa0-up".into()];
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"), "{}", d.log());
    let ns = Netns::new(&format!("ck{id}w"));
    let ck = cockpit(&ns, 9090, &[]);
    let mut b = Browser::start(&ns);
    b.open(&page_url(&ck, &d.socket));

    // The picture: the switch and both VM ports, with their names.
    let names = b.wait(
        "(() => { const q = id => document.querySelector(`#graph g[data-id=\"${id}\"]`);
          const s = q('switch:vepa0'), a = q('port:vepa0/vepa0-vm1'), c = q('port:vepa0/vepa0-vm2');
          return s && a && c ? [s.textContent, a.textContent, c.textContent] : null })()",
        Duration::from_secs(20),
        "the SVG shows vepa0 and its two VM ports",
    );
    assert!(
        names[0]
            .as_str()
            .is_some_and(|t| t.contains("vepa0 (macvlan veb")),
        "{names}"
    );
    assert!(
        names[1].as_str().is_some_and(|t| t.contains("vepa0-vm1")),
        "{names}"
    );
    assert!(
        names[2].as_str().is_some_and(|t| t.contains("vepa0-vm2")),
        "{names}"
    );

    // A ping from vm1's namespace shows as vm1's rate within 3 s (after
    // the rate has first read zero, so it is this ping that shows).
    let rx = format!(
        "Number({}.querySelector('[data-cell=\"rx\"]').textContent)",
        row("vepa0-vm1")
    );
    b.wait(
        &format!("{rx} === 0"),
        Duration::from_secs(15),
        "vm1's rate settles at 0",
    );
    let ping = steady_ping();
    let started = Instant::now();
    let fps = b.wait(
        &format!("{rx} > 0 && {rx}"),
        Duration::from_secs(3),
        "vm1's rate within 3 s of a ping",
    );
    let took = started.elapsed();
    let svg_rate = b.eval(
        "document.querySelector('#graph [data-rate-for=\"port:vepa0/vepa0-vm1\"]').textContent",
    );
    assert!(
        svg_rate
            .as_str()
            .is_some_and(|t| t.starts_with("rx ") && !t.starts_with("rx 0/s")),
        "{svg_rate}"
    );
    eprintln!("vm1's rate read {fps} frames/s {took:?} after the ping started");

    // Drops by reason: a flow that drops ICMP shows on vm1's row, with
    // its rate, while the ping goes on.
    d.ok(&["flow", "add", "vepa0", "priority=100,icmp,actions=drop"]);
    let dropped = b.wait(
        &format!(
            "(() => {{ const e = {}.querySelector('[data-cell=\"drops\"] [data-reason=\"flow_drop\"]');
              return e && /^flow_drop [0-9]+ \\(\\+[0-9.]+\\/s\\)$/.test(e.textContent) && e.textContent }})()",
            row("vepa0-vm1")
        ),
        Duration::from_secs(5),
        "vm1's flow_drop count and rate",
    );
    eprintln!("vm1's drops read {dropped}");
    d.ok(&["flow", "del", "vepa0"]);

    // A mode chosen in the page is the port's in `vepa port show`, and
    // it forwards so: vepa with nothing reflecting on the wire.
    assert_eq!(mode_shown(&d, "vepa0-vm1"), "(switch)");
    b.eval(&format!(
        "(() => {{ const s = {}.querySelector('select[data-field=\"mode\"]'); s.value = 'vepa';
          s.dispatchEvent(new Event('change')); return true }})()",
        row("vepa0-vm1")
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while mode_shown(&d, "vepa0-vm1") != "vepa" {
        assert!(Instant::now() < deadline, "{}", d.ok(&["port", "show"]));
        std::thread::sleep(Duration::from_millis(100));
    }
    b.wait(
        &format!(
            "{}.querySelector('select[data-field=\"mode\"]').value === 'vepa'",
            row("vepa0-vm1")
        ),
        Duration::from_secs(5),
        "the page shows vm1 in vepa mode",
    );
    drop(ping);
    assert!(
        !vepa_itest::ping("vepa-vm1", "10.77.0.2"),
        "vm1 in vepa mode reaches vm2 with nothing reflecting"
    );

    // An invalid VLAN: the API's error next to the field, nothing applied.
    // While it is typed, the page's refreshes leave the field alone.
    b.eval(&format!(
        "(() => {{ const i = {}.querySelector('input[data-field=\"vlan\"]'); i.focus(); i.value = '5000';
          i.dispatchEvent(new Event('input')); return true }})()",
        row("vepa0-vm2")
    ));
    std::thread::sleep(Duration::from_millis(2500));
    let kept = b.eval(&format!(
        "(() => {{ const i = {}.querySelector('input[data-field=\"vlan\"]'); return document.activeElement === i && i.value }})()",
        row("vepa0-vm2")
    ));
    assert_eq!(
        kept,
        json!("5000"),
        "two refreshes kept the field's focus and text"
    );
    b.eval(&format!(
        "{}.querySelector('button[data-action=\"set-vlan\"]').click()",
        row("vepa0-vm2")
    ));
    let err = b.wait(
        &format!(
            "{}.querySelector('input[data-field=\"vlan\"]').parentElement.querySelector('.field-error[data-for=\"vlan\"]').textContent",
            row("vepa0-vm2")
        ),
        Duration::from_secs(5),
        "the VLAN error next to the field",
    );
    assert_eq!(
        err,
        json!("switch 'vepa0', port 'vepa0-vm2': vlan: VLAN ID 5000 is out of range; expected 1 to 4094"),
    );
    let views: Value = serde_json::from_str(&d.ok(&["port", "show", "-o", "json"])).expect("JSON");
    let vm2 = views
        .as_array()
        .and_then(|a| a.iter().find(|v| v["spec"]["name"] == "vepa0-vm2"))
        .expect("vm2");
    assert!(vm2["spec"].get("vlan").is_none(), "{vm2}");

    // Add a port from the form (a bad name first: refused next to the
    // name), then remove it from its row.
    let port = format!("ck{id}");
    let ns = format!("ck{id}ns");
    d.links.push(port.clone());
    let fill = |name: &str| {
        format!(
            "(() => {{ const f = document.getElementById('add-port'); const set = (k, v) => f.querySelector(`[data-field=\"${{k}}\"]`).value = v;
              set('name', '{name}'); set('type', 'veth'); set('netns', '{ns}'); set('address', '10.77.0.3/24');
              f.querySelector('button[type=\"submit\"]').click(); return true }})()"
        )
    };
    b.eval(&fill("bad name"));
    let err = b.wait(
        "document.querySelector('#add-port .field-error[data-for=\"name\"]').textContent",
        Duration::from_secs(5),
        "the name error next to the field",
    );
    assert!(
        err.as_str()
            .is_some_and(|e| e.contains("expected 1 to 15 characters")),
        "{err}"
    );
    assert!(!d.ok(&["port", "show"]).contains("bad name"));
    b.eval(&fill(&port));
    b.wait(
        &format!("document.querySelector('#graph g[data-id=\"port:vepa0/{port}\"]')"),
        Duration::from_secs(10),
        "the added port in the picture",
    );
    assert!(d.ok(&["port", "show"]).contains(&port));
    assert!(wait_reachable(&ns, "10.77.0.2"), "the added port forwards");
    let remove = format!(
        "{}.querySelector('button[data-action=\"remove\"]').click()",
        row(&port)
    );
    b.eval(&remove);
    b.eval(&remove);
    b.wait(
        &format!("!document.querySelector('#graph g[data-id=\"port:vepa0/{port}\"]')"),
        Duration::from_secs(10),
        "the removed port leaves the picture",
    );
    assert!(!d.ok(&["port", "show"]).contains(&port));
    assert!(
        !netns_exists(&ns),
        "the namespace vepa made went with the port"
    );

    // The README's picture: the page with traffic on vm1.
    b.eval(&format!(
        "(() => {{ const s = {}.querySelector('select[data-field=\"mode\"]'); s.value = 'default';
          s.dispatchEvent(new Event('change')); return true }})()",
        row("vepa0-vm1")
    ));
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"), "veb again");
    let ping = steady_ping();
    let tx = rx.replace("\"rx\"", "\"tx\"");
    b.wait(
        &format!("{rx} > 5 && {tx} > 5"),
        Duration::from_secs(10),
        "traffic both ways for the picture",
    );
    b.wait(
        "document.querySelector('#graph g[data-id=\"port:vepa0/vepa0-vm1\"]').textContent.includes('veth · veb')",
        Duration::from_secs(5),
        "the picture shows vm1 back in the switch's mode",
    );
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cockpit.png");
    b.screenshot(&shot);
    // VEPA_SCREENSHOT=docs/cockpit.png renews the README's picture.
    if let Ok(to) = std::env::var("VEPA_SCREENSHOT") {
        let to = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(to);
        std::fs::copy(&shot, &to).expect("copy the screenshot");
    }
    drop(ping);
}

/// The page sees what the API lets its user see: a user outside the
/// daemon's group gets the API's refusal and no data; one inside it, the
/// fabric.
#[test]
fn the_cockpit_page_shows_only_what_the_api_allows() {
    require_root();
    let id = uid();
    let d = Daemon::start_with(&["--group", "1"]);
    let sw = format!("cka{id}");
    d.ok(&["switch", "add", &sw]);
    // The socket's mode lets anyone connect: the API's own check decides.
    chmod(d.dir.path(), 0o711);
    chmod(&d.socket, 0o666);
    let ns = Netns::new(&format!("cka{id}w"));
    let mut b = Browser::start(&ns);
    {
        let ck = cockpit(
            &ns,
            9090,
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ],
        );
        b.open(&page_url(&ck, &d.socket));
        let problem = b.problem("the refusal");
        assert!(
            problem.contains("uid 65534 is not root and not in the socket's group (gid 1)"),
            "{problem}"
        );
        let leaked = b.eval(&format!(
            "document.getElementById('content').hidden === true && !document.body.innerHTML.includes('{sw}')"
        ));
        assert_eq!(leaked, json!(true), "nothing of the fabric on the page");
    }
    let ck = cockpit(
        &ns,
        9091,
        &["setpriv", "--reuid=65534", "--regid=65534", "--groups=1"],
    );
    b.open(&page_url(&ck, &d.socket));
    b.wait(
        &format!("document.querySelector('#graph g[data-id=\"switch:{sw}\"]')"),
        Duration::from_secs(20),
        "the daemon's group sees the switch",
    );
    // A crafted address cannot point the page at another service's socket.
    let elsewhere = format!(
        "http://127.0.0.1:{}/cockpit/@localhost/vepa/index.html?socket=/run/dbus/system_bus_socket",
        ck.port
    );
    b.open(&elsewhere);
    let problem = b.problem("the refusal of another socket");
    assert!(
        problem.starts_with("socket: the page's address may name only a vepa socket"),
        "{problem}"
    );
}

/// In Cockpit's own shell: the page is in the menu and runs in the shell's
/// frame (the shell's transport, its content-security policy).
#[test]
fn the_cockpit_shell_lists_and_hosts_the_page() {
    require_root();
    let id = uid();
    let d = Daemon::start();
    let sw = format!("cks{id}");
    d.ok(&["switch", "add", &sw]);
    let ns = Netns::new(&format!("cks{id}w"));
    let ck = cockpit(&ns, 9090, &[]);
    let mut b = Browser::start(&ns);
    b.open(&format!(
        "http://127.0.0.1:{}/vepa#/?socket={}",
        ck.port,
        d.socket.display()
    ));
    b.wait(
        "[...document.querySelectorAll('nav a')].some(a => a.textContent.trim() === 'vepa')",
        Duration::from_secs(20),
        "vepa in the shell's menu",
    );
    b.wait(
        &format!(
            "(() => {{ const f = document.querySelector('iframe[name=\"cockpit1:localhost/vepa\"]');
              return f && f.contentDocument && f.contentDocument.querySelector('#graph g[data-id=\"switch:{sw}\"]') !== null }})()"
        ),
        Duration::from_secs(20),
        "the page in the shell's frame draws the switch",
    );
}
