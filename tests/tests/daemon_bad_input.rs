//! Bad requests to the daemon: each answered with a 4xx naming the field,
//! and the store unchanged. Users outside the socket's group and wrong
//! tokens are turned away.

use std::process::Command;
use vepa_itest::daemon::{http_on, Daemon};
use vepa_itest::{link_exists, require_root, uid, vepa_bin, Netns};

fn generation(d: &Daemon) -> serde_json::Value {
    d.topology()
}

#[test]
fn bad_requests_get_a_4xx_naming_the_field_and_change_nothing() {
    require_root();
    let id = uid();
    let ns = Netns::new(&format!("dba{id}"));
    let mut d = Daemon::start();
    let sw = format!("b{id}");
    let p1 = format!("b1{id}");
    d.links = vec![p1.clone()];
    d.ok(&["switch", "add", &sw]);
    d.ok(&[
        "port", "add", &sw, &p1, "--type", "veth", "--netns", &ns.name,
    ]);
    let before = generation(&d);
    let ports = format!("/v1/switches/{sw}/ports");
    // (method, path, body, expected status, field named)
    type Case<'a> = (&'a str, String, Option<String>, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/switches".into(),
            Some("{\"name\": \"x\",".into()),
            400,
            None,
        ),
        (
            "POST",
            "/v1/switches".into(),
            Some("{\"name\": \"x\", \"colour\": 1}".into()),
            400,
            Some("colour"),
        ),
        (
            "POST",
            ports.clone(),
            Some("{\"name\": \"q\", \"type\": \"veth\", \"mac\": \"02:zz\"}".into()),
            400,
            Some("mac"),
        ),
        (
            "POST",
            ports.clone(),
            Some("{\"name\": \"q\", \"type\": \"veth\", \"vlan\": 4095}".into()),
            422,
            Some("vlan"),
        ),
        (
            "POST",
            ports.clone(),
            Some("{\"name\": \"q\", \"type\": \"veth\", \"mode\": \"hub\"}".into()),
            400,
            Some("mode"),
        ),
        (
            "POST",
            ports.clone(),
            Some("{\"name\": \"q\", \"type\": \"wire\"}".into()),
            400,
            Some("type"),
        ),
        (
            "POST",
            ports.clone(),
            Some(format!("{{\"name\": \"{p1}\", \"type\": \"veth\"}}")),
            409,
            Some("name"),
        ),
        (
            "POST",
            "/v1/switches".into(),
            Some(format!("{{\"name\": \"{sw}\"}}")),
            409,
            Some("name"),
        ),
        (
            "PATCH",
            format!("/v1/switches/{sw}/ports/{p1}"),
            Some("{\"relay\": \"maybe\"}".into()),
            400,
            Some("relay"),
        ),
        (
            "PATCH",
            format!("/v1/switches/{sw}/ports/{p1}"),
            Some("{\"trunk\": [10, 5000]}".into()),
            422,
            Some("trunk"),
        ),
        (
            "POST",
            format!("/v1/switches/{sw}/fdb"),
            Some(format!(
                "{{\"mac\": \"02:00:00:00:00:01\", \"vlan\": 0, \"port\": \"{p1}\"}}"
            )),
            422,
            Some("vlan"),
        ),
        (
            "POST",
            format!("/v1/switches/{sw}/fdb"),
            Some("{\"mac\": \"02:00:00:00:00:01\", \"port\": \"nope\"}".into()),
            422,
            Some("port"),
        ),
        (
            "DELETE",
            format!("/v1/switches/{sw}/fdb/not-a-mac"),
            None,
            400,
            Some("mac"),
        ),
        ("GET", "/v1/switches/nope".into(), None, 404, Some("switch")),
        (
            "DELETE",
            format!("/v1/switches/{sw}/ports/nope"),
            None,
            404,
            Some("port"),
        ),
        (
            "POST",
            "/v1/apply".into(),
            Some("{\"topology\": {\"switch\": [{\"name\": \"a/b\"}]}}".into()),
            422,
            Some("name"),
        ),
        ("GET", "/v2/switches".into(), None, 404, None),
        (
            "POST",
            "/v1/switches".into(),
            // A kernel switch cannot do VLANs (802.1Q is absent, and done in userspace).
            Some("{\"name\": \"kb\", \"backend\": \"kernel\", \"port\": [{\"name\": \"kbq\", \"type\": \"veth\", \"netns\": \"kbq\", \"vlan\": 10}]}".into()),
            422,
            Some("backend"),
        ),
        (
            "POST",
            ports.clone(),
            Some("{\"name\": \"w\", \"type\": \"patch\", \"peer\": \"a/b\"}".into()),
            422,
            Some("type"),
        ),
        (
            "POST",
            "/v1/switches".into(),
            Some(format!("{{\"name\": \"{}\"}}", "n".repeat(65))),
            422,
            Some("name"),
        ),
    ];
    for (method, path, body, status, field) in &cases {
        let (got, text) = d.http(method, path, body.as_deref()).expect("request");
        assert_eq!(got, *status, "{method} {path} {body:?} -> {text}");
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body: {text}"));
        assert!(v["error"].as_str().is_some_and(|e| e.len() > 10), "{text}");
        if let Some(f) = field {
            assert_eq!(v["field"], *f, "{method} {path} {body:?} -> {text}");
        }
        assert_eq!(generation(&d), before, "{method} {path} changed the store");
    }
    // The CLI says the same in one line.
    let err = d.fails(&["port", "add", &sw, "q", "--type", "veth", "--vlan", "9999"]);
    assert!(
        err.starts_with("vepa: error: ") && err.contains("field 'vlan'"),
        "{err}"
    );
    let err = d.fails(&["port", "add", &sw, &p1, "--type", "veth"]);
    assert!(err.contains("409") && err.contains("field 'name'"), "{err}");
    let err = d.fails(&["fdb", "add", &sw, "zz", "--port", &p1]);
    assert!(err.contains("MAC"), "{err}");

    // Restarted, the store holds exactly what was acknowledged.
    d.stop();
    d.launch();
    assert_eq!(generation(&d), before);
    assert!(link_exists(&p1));
}

/// Runs the CLI as `nobody`, with `groups` as its groups.
fn as_nobody(d: &Daemon, gid: u32, groups: &str, args: &[&str]) -> std::process::Output {
    vepa_itest::as_nobody(gid, groups)
        .arg(vepa_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(args)
        .output()
        .expect("setpriv")
}

#[test]
fn only_root_and_the_group_may_use_the_socket() {
    require_root();
    // Group 1 ("daemon" on Debian) is the socket's group.
    let d = Daemon::start_with(&["--group", "1"]);
    let meta = std::fs::metadata(&d.socket).expect("socket");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), 1);
    // Let everyone reach the socket's directory (a tempdir is 0700).
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = as_nobody(&d, 65534, "", &["switch", "show"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("permission denied") && err.contains("group"),
        "{err}"
    );
    let out = as_nobody(&d, 1, "", &["switch", "show"]);
    assert!(
        out.status.success(),
        "primary group: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_nobody(&d, 65534, "1", &["switch", "show"]);
    assert!(
        out.status.success(),
        "supplementary group: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Even with the mode loosened, the daemon checks who is calling.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let before = d.topology();
    let out = as_nobody(&d, 65534, "", &["switch", "add", "intruder"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("403") && err.contains("not in the socket's group"),
        "{err}"
    );
    assert_eq!(d.topology(), before);

    // Without --vhost-group, the group may connect guests to vhost-user
    // sockets too.
    let sock = d.vhost_dir().join("vu.sock");
    d.ok(&["switch", "add", "vug"]);
    d.ok(&[
        "port",
        "add",
        "vug",
        "vu1",
        "--type",
        "vhost-user",
        "--vhost-socket",
        &sock.display().to_string(),
    ]);
    let meta = std::fs::metadata(&sock).expect("vhost-user socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), 1);
}

#[test]
fn the_tcp_api_wants_the_token() {
    require_root();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let token = format!("t0k3n-{}-abcdefghijklmnop", uid());
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start_with(&[
        "--listen",
        &addr,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    let tcp = || std::net::TcpStream::connect(&addr).expect("connect");
    let (st, body) = http_on(tcp(), "GET", "/v1/switches", None, None).unwrap();
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("bearer token"), "{body}");
    let (st, _) = http_on(
        tcp(),
        "GET",
        "/v1/switches",
        None,
        Some("wrong-token-of-some-length"),
    )
    .unwrap();
    assert_eq!(st, 401);
    let (st, _) = http_on(
        tcp(),
        "POST",
        "/v1/switches",
        Some("{\"name\": \"t\"}"),
        Some(&token[..token.len() - 1]),
    )
    .unwrap();
    assert_eq!(st, 401, "a prefix of the token is not the token");
    let before = d.topology();
    assert_eq!(before["switch"].as_array().map(|a| a.len()).unwrap_or(0), 0);
    let (st, body) = http_on(tcp(), "GET", "/v1/switches", None, Some(&token)).unwrap();
    assert_eq!((st, body.as_str()), (200, "[]"));
    // The CLI over TCP.
    let out = Command::new(vepa_bin())
        .args([
            "--url",
            &format!("http://{addr}"),
            "--token-file",
            token_file.to_str().unwrap(),
            "switch",
            "show",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Refused outright: a non-loopback listen address, a missing token file.
    let out = Command::new(vepa_bin())
        .args([
            "daemon",
            "--state-dir",
            dir.path().join("s").to_str().unwrap(),
            "--socket",
            dir.path().join("s.sock").to_str().unwrap(),
            "--listen",
            "0.0.0.0:7999",
            "--token-file",
            token_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("loopback"), "{err}");
}
