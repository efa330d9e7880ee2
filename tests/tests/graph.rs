//! `vepa graph`: every example draws through Graphviz, the JSON model
//! reads back as it was written, and from the daemon a busy port shows its
//! rate.

use std::process::{Command, Stdio};
use vepa_api::graph::Graph;
use vepa_itest::{require_root, uid, vepa_bin, Netns};

fn examples() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "examples: {v:?}");
    v
}

fn graph(args: &[&str]) -> std::process::Output {
    Command::new(vepa_bin())
        .arg("graph")
        .args(args)
        .output()
        .expect("run vepa graph")
}

#[test]
fn every_example_draws_through_graphviz() {
    assert!(
        std::path::Path::new("/usr/bin/dot").exists(),
        "Graphviz's dot is missing; scripts/test.sh installs graphviz"
    );
    for f in examples() {
        let file = f.to_string_lossy();
        let out = graph(&["-f", &file, "-o", "dot"]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `vepa graph -o dot | dot -Tsvg`, as the README shows.
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run dot");
        std::io::Write::write_all(&mut dot.stdin.take().expect("stdin"), &out.stdout)
            .expect("feed dot");
        let svg = dot.wait_with_output().expect("dot");
        assert!(
            svg.status.success(),
            "{file}: dot: {}",
            String::from_utf8_lossy(&svg.stderr)
        );
        // (Graphviz writes '-' as an entity.)
        let text = String::from_utf8_lossy(&svg.stdout).replace("&#45;", "-");
        let model: Graph = serde_json::from_slice(&graph(&["-f", &file, "-o", "json"]).stdout)
            .unwrap_or_else(|e| panic!("{file}: JSON: {e}"));
        // Each label's first line is its own <text>: the switch's title,
        // each port's name.
        for s in &model.switches {
            assert!(
                text.contains(&format!(">{} ({} {}", s.name, s.kind, s.mode)),
                "{file}: switch {} drawn",
                s.name
            );
            for p in &s.ports {
                assert!(
                    text.contains(&format!(">{}<", p.name)),
                    "{file}: port {} drawn",
                    p.name
                );
            }
        }
        // -o svg draws the same through dot itself.
        let direct = graph(&["-f", &file, "-o", "svg"]);
        assert!(
            direct.status.success() && direct.stdout.starts_with(b"<?xml"),
            "{file}"
        );
    }
}

#[test]
fn the_json_model_reads_back_as_written() {
    for f in examples() {
        let file = f.to_string_lossy();
        let out = graph(&["-f", &file, "-o", "json"]);
        assert!(out.status.success(), "{file}");
        let g: Graph = serde_json::from_slice(&out.stdout).expect("a graph");
        let again: Graph =
            serde_json::from_str(&serde_json::to_string(&g).expect("write")).expect("read back");
        assert_eq!(g, again, "{file}");
        // Nothing printed is lost on the way in: the model written again
        // is the JSON as printed, field for field.
        let raw: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(serde_json::to_value(&g).expect("a value"), raw, "{file}");
        // -j is -o json.
        let j = Command::new(vepa_bin())
            .args(["-j", "graph", "-f", &file])
            .output()
            .expect("vepa -j graph");
        assert_eq!(j.stdout, out.stdout, "{file}");
        // Every link joins nodes the graph has.
        let mut ids: Vec<&str> = g.remotes.iter().map(|r| r.id.as_str()).collect();
        ids.extend(g.routers.iter().map(|r| r.id.as_str()));
        ids.extend(
            g.switches
                .iter()
                .flat_map(|s| s.ports.iter().map(|p| p.id.as_str())),
        );
        for l in &g.links {
            assert!(
                ids.contains(&l.from.as_str()) && ids.contains(&l.to.as_str()),
                "{file}: a link to nowhere: {l:?}"
            );
        }
    }
}

#[test]
fn a_bad_file_is_refused_naming_it() {
    let out = graph(&["-f", "/nonexistent/t.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/t.toml"));
}

/// From the daemon: a port with a ping going through it shows a rate, and
/// the switch its realized backend.
#[test]
fn the_daemons_graph_shows_a_busy_port() {
    require_root();
    let id = uid();
    let a = Netns::new(&format!("gr{id}a"));
    let b = Netns::new(&format!("gr{id}b"));
    let mut d = vepa_itest::daemon::Daemon::start();
    let (pa, pb) = (format!("gr{id}a"), format!("gr{id}b"));
    d.links = vec![pa.clone(), pb.clone()];
    let file = d.dir.path().join("g.toml");
    std::fs::write(
        &file,
        format!(
            "[[switch]]\nname = \"gr{id}\"\n\
             [[switch.port]]\nname = \"{pa}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.77.0.1/24\"]\n\
             [[switch.port]]\nname = \"{pb}\"\ntype = \"veth\"\nnetns = \"{}\"\naddress = [\"10.77.0.2/24\"]\n\
             [[router]]\nname = \"gr{id}r\"\n[[router.port]]\nname = \"a\"\nswitch = \"gr{id}\"\naddress = [\"10.77.0.254/24\"]\n",
            a.name, b.name
        ),
    )
    .expect("write");
    d.ok(&["apply", "-f", &file.to_string_lossy()]);
    assert!(vepa_itest::wait_reachable(&a.name, "10.77.0.2"));
    let mut ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a.name,
            "ping",
            "-i",
            "0.05",
            "-c",
            "100",
            "-q",
            "10.77.0.2",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("ping");
    let g: Graph = serde_json::from_str(&d.ok(&["graph", "-o", "json"])).expect("a graph");
    let dot = d.ok(&["graph"]);
    let _ = ping.kill();
    let _ = ping.wait();
    let s = g
        .switches
        .iter()
        .find(|s| s.name == format!("gr{id}"))
        .expect("the switch");
    assert_eq!(s.backend, "userspace", "{s:?}");
    let port = s.ports.iter().find(|p| p.name == pa).expect("the port");
    assert!(
        port.state.as_deref().is_some_and(|x| x.starts_with("up")),
        "{port:?}"
    );
    let fps = port.traffic.as_ref().and_then(|t| t.rx_fps).unwrap_or(0.0);
    assert!(fps >= 5.0, "20 pings a second should show: {port:?}");
    // The DOT label carries a rate that is not zero.
    let line = dot
        .lines()
        .find(|l| l.contains(&format!("\"port:gr{id}/{pa}\" [")))
        .unwrap_or_else(|| panic!("{dot}"));
    assert!(line.contains("rx ") && !line.contains("rx 0/s"), "{line}");
    assert!(
        g.routers.iter().any(|r| r.name == format!("gr{id}r")),
        "{g:?}"
    );
    // The API serves the same model (for pages that draw it), and the
    // OpenAPI document describes it: every object of the graph has the
    // properties its schema requires and none the schema lacks.
    let (status, body) = d.http("GET", "/v1/graph", None).expect("GET /v1/graph");
    assert_eq!(status, 200, "{body}");
    let live: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let _: Graph = serde_json::from_value(live.clone()).expect("a graph");
    let (_, doc) = d.http("GET", "/v1/openapi.json", None).expect("openapi");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert!(
        doc["paths"].get("/v1/graph").is_some(),
        "/v1/graph in the OpenAPI document"
    );
    let schemas = &doc["components"]["schemas"];
    let file_graph: serde_json::Value = serde_json::to_value(Graph::from_topology(
        &serde_json::from_value(d.topology()).expect("topology"),
    ))
    .expect("JSON");
    for g in [&live, &file_graph] {
        conforms(schemas, "Graph", g);
        for s in g["switches"].as_array().into_iter().flatten() {
            conforms(schemas, "GraphSwitch", s);
            for p in s["ports"].as_array().into_iter().flatten() {
                conforms(schemas, "GraphPort", p);
                if !p["traffic"].is_null() {
                    conforms(schemas, "GraphTraffic", &p["traffic"]);
                }
            }
        }
        for (key, name) in [
            ("remotes", "GraphRemote"),
            ("links", "GraphLink"),
            ("routers", "GraphRouter"),
        ] {
            for x in g[key].as_array().into_iter().flatten() {
                conforms(schemas, name, x);
            }
        }
    }
}

/// `value` has every property schema `name` requires, and none it lacks.
fn conforms(schemas: &serde_json::Value, name: &str, value: &serde_json::Value) {
    let schema = &schemas[name];
    assert!(
        schema.is_object(),
        "no schema {name} in the OpenAPI document"
    );
    let props = schema["properties"].as_object().expect("properties");
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().expect("a name");
        assert!(value.get(r).is_some(), "{name}: {r} missing in {value}");
    }
    for k in value.as_object().expect("an object").keys() {
        assert!(props.contains_key(k), "{name}: {k} is not in its schema");
    }
}
