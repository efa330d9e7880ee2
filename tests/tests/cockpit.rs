//! vepa's Cockpit page (`integrations/cockpit/`) in a real browser.
//! cockpit-ws serves the page from this checkout (through XDG_DATA_DIRS:
//! nothing is installed) with a bridge of the user it runs as; headless
//! Chromium loads it and is driven over the DevTools protocol; the page
//! talks to a daemon on its embedded default topology.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use vepa_itest::daemon::Daemon;
use vepa_itest::{free_port, netns_exists, require_root, uid, wait_listening, wait_reachable};

/// A process group killed whole when dropped (Chromium and cockpit-ws
/// both start children of their own).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test started; no memory involved.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// cockpit-ws on a loopback port with a local session (no login), run
/// through `wrap` (e.g. setpriv to another user), serving this
/// checkout's page as package "vepa".
struct Cockpit {
    _ws: Group,
    port: u16,
    _data: tempfile::TempDir,
}

fn cockpit(wrap: &[&str]) -> Cockpit {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/cockpit");
    let page = page.canonicalize().expect("integrations/cockpit");
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(data.path().join("cockpit")).expect("mkdir");
    std::os::unix::fs::symlink(&page, data.path().join("cockpit/vepa")).expect("symlink");
    // Another user must be able to read the package through the link.
    chmod(data.path(), 0o755);
    chmod(&data.path().join("cockpit"), 0o755);
    let port = free_port();
    let ws = "/usr/lib/cockpit/cockpit-ws";
    assert!(
        Path::new(ws).exists(),
        "{ws} is missing: scripts/test.sh installs cockpit-ws and cockpit-bridge"
    );
    let (prog, args) = match wrap.split_first() {
        Some((p, rest)) => (*p, [rest, &[ws]].concat()),
        None => (ws, vec![]),
    };
    let child = Command::new(prog)
        .args(args)
        .args(["--no-tls", "--local-session=cockpit-bridge", "--address"])
        .args(["127.0.0.1", "--port", &port.to_string()])
        .env(
            "XDG_DATA_DIRS",
            format!("{}:/usr/share", data.path().display()),
        )
        .env("HOME", data.path())
        .current_dir(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start cockpit-ws");
    let ws = Group(child);
    assert!(wait_listening(port), "cockpit-ws did not listen on {port}");
    Cockpit {
        _ws: ws,
        port,
        _data: data,
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Headless Chromium with one page, driven over the DevTools protocol
/// (a flat session on the browser's WebSocket).
struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next: u64,
    _chromium: Group,
    _profile: tempfile::TempDir,
    stderr: mpsc::Receiver<String>,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1360,1020",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start chromium (scripts/test.sh installs it)");
        let stderr = child.stderr.take().expect("stderr");
        let chromium = Group(child);
        // Chromium names its DevTools endpoint on stderr; the rest of what
        // it says is kept for a failure's message (and the pipe drained).
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut said = String::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("DevTools listening on ") {
                        break u.trim().to_string();
                    }
                    said.push_str(&line);
                    said.push('\n');
                }
                Err(_) => panic!("chromium named no DevTools endpoint within 30 s:\n{said}"),
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str()).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("read timeout");
        }
        let mut b = Browser {
            ws,
            session: String::new(),
            next: 0,
            _chromium: chromium,
            _profile: profile,
            stderr: rx,
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

    /// One DevTools command and its result (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send to DevTools");
        loop {
            let m = self.ws.read().expect("DevTools answer");
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                panic!("DevTools {method}: {e}\n{}", self.said());
            }
            return v["result"].clone();
        }
    }

    fn said(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
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

    /// The value, or the exception it threw.
    fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
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
    let ck = cockpit(&[]);
    let mut b = Browser::start();
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
    let mut ping = Command::new("ip")
        .args([
            "netns", "exec", "vepa-vm1", "ping", "-q", "-i", "0.05", "-w", "30",
        ])
        .arg("10.77.0.2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
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

    // An invalid VLAN: the API's error next to the field, nothing applied.
    b.eval(&format!(
        "(() => {{ const r = {}; const i = r.querySelector('input[data-field=\"vlan\"]'); i.focus(); i.value = '5000';
          i.dispatchEvent(new Event('input')); r.querySelector('button[data-action=\"set-vlan\"]').click(); return true }})()",
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
    // (A fresh ping: the first one's neighbour entry failed in vepa mode.)
    let _ = ping.kill();
    let _ = ping.wait();
    assert!(wait_reachable("vepa-vm1", "10.77.0.2"), "veb again");
    ping = Command::new("ip")
        .args([
            "netns", "exec", "vepa-vm1", "ping", "-q", "-i", "0.05", "-w", "30",
        ])
        .arg("10.77.0.2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
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
    let _ = ping.kill();
    let _ = ping.wait();
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
    let mut b = Browser::start();
    {
        let ck = cockpit(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
        b.open(&page_url(&ck, &d.socket));
        let problem = b.wait(
            "(() => { const p = document.getElementById('problem'); return !p.hidden && p.textContent })()",
            Duration::from_secs(20),
            "the refusal",
        );
        assert!(
            problem.as_str().is_some_and(
                |p| p.contains("uid 65534 is not root and not in the socket's group (gid 1)")
            ),
            "{problem}"
        );
        let leaked = b.eval(&format!(
            "document.getElementById('content').hidden === true && !document.body.innerHTML.includes('{sw}')"
        ));
        assert_eq!(leaked, json!(true), "nothing of the fabric on the page");
    }
    let ck = cockpit(&["setpriv", "--reuid=65534", "--regid=65534", "--groups=1"]);
    b.open(&page_url(&ck, &d.socket));
    b.wait(
        &format!("document.querySelector('#graph g[data-id=\"switch:{sw}\"]')"),
        Duration::from_secs(20),
        "the daemon's group sees the switch",
    );
}
