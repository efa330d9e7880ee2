/*
 * vepa's Cockpit page. It reads the daemon's API over its unix socket
 * through cockpit.http, as the logged-in user (never as superuser): the
 * daemon answers only root and its group, so the page shows exactly what
 * the API would show that user.
 *
 * Every second it reads /v1/graph (the model `vepa graph` draws) and
 * /v1/ports (each port's own settings). The picture is laid out again only
 * when the topology changes; rates and states are updated in place, and a
 * form field the user is editing is never overwritten.
 *
 * Everything from the daemon is hostile text: it reaches the page through
 * textContent and attribute setters only, never as markup.
 */
"use strict";

(function () {
    // Another daemon's socket may be named on the page's address
    // (?socket=/path/vepa.sock, or in Cockpit's shell /vepa#/?socket=...),
    // but only a vepa socket: a crafted link must not point the page,
    // acting as its user, at some other service.
    const fromShell = cockpit.location.options.socket;
    const ASKED = new URLSearchParams(window.location.search).get("socket") ??
        (typeof fromShell === "string" ? fromShell : null);
    const SOCKET_OK = ASKED === null || /^\/(?:[^/\0]+\/)*vepa\.sock$/.test(ASKED) && !ASKED.split("/").includes("..");
    const SOCKET = ASKED !== null ? ASKED : "/run/vepa/vepa.sock";
    const SVG = "http://www.w3.org/2000/svg";

    // One line per mode, in the words of DESIGN.md's forwarding contract.
    const POLICY = [
        ["veb", "VMs on the switch reach each other directly; everything else goes out the uplink (kernel macvlan \"bridge\")."],
        ["vepa", "Every frame goes out the uplink, even to a VM on this host; VM to VM works only if the adjacent bridge reflects it (reflective relay)."],
        ["private", "Out the uplink only; never to another VM here, even when the adjacent bridge reflects the frame back."],
        ["passthru", "One VM owns the uplink and receives everything that arrives on it."],
        ["source", "Receives copies of the frames whose source MAC is on the port's allow list; never by destination."],
    ];
    const POLICY_OF = Object.fromEntries(POLICY);

    // ---- the API -----------------------------------------------------------

    const api = cockpit.http({ unix: SOCKET });

    /* An API call: resolves to the parsed answer; rejects with
     * { error, field, status, problem } where the daemon's ErrorBody (or
     * Cockpit's transport problem) says what went wrong. */
    function call(method, path, body) {
        return new Promise((resolve, reject) => {
            const req = { method, path, body: body === undefined ? "" : JSON.stringify(body) };
            if (body !== undefined)
                req.headers = { "Content-Type": "application/json" };
            api.request(req).then(
                data => {
                    try {
                        resolve(data ? JSON.parse(data) : null);
                    } catch (e) {
                        reject({ error: "the daemon's answer is not JSON: " + e.message });
                    }
                },
                (ex, data) => reject(apiError(ex, data)));
        });
    }

    function apiError(ex, data) {
        if (ex && ex.problem) {
            return {
                problem: ex.problem,
                error: "cannot use the vepa daemon's socket " + SOCKET + ": " + cockpit.message(ex) +
                    (ex.problem === "not-found" ? " (is the daemon running?)" : "") +
                    (ex.problem === "access-denied" ? " (only root and the daemon's group may use it)" : ""),
            };
        }
        let body = null;
        try {
            body = JSON.parse(data);
        } catch (e) {
            body = null;
        }
        if (body && typeof body.error === "string")
            return { status: ex.status, error: body.error, field: body.field || "" };
        return { status: ex && ex.status, error: String((ex && ex.message) || ex) };
    }

    // ---- small DOM helpers -------------------------------------------------

    function h(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === "class")
                e.className = v;
            else if (v !== undefined && v !== null)
                e.setAttribute(k, v);
        }
        for (const c of children)
            e.append(c);
        return e;
    }

    function s(tag, attrs, parent) {
        const e = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs || {}))
            e.setAttribute(k, v);
        if (parent)
            parent.appendChild(e);
        return e;
    }

    function rate(x) {
        if (x === undefined || x === null)
            return "–";
        if (x >= 1e6)
            return (x / 1e6).toFixed(1) + "M";
        if (x >= 1e4)
            return (x / 1e3).toFixed(0) + "k";
        if (x > 0 && x < 0.05)
            return "<0.1";
        return x >= 10 || x === 0 ? x.toFixed(0) : x.toFixed(1);
    }

    /* Shows `err` next to the element of `scope` whose data-for is its
     * field (the form's or row's general slot when none matches). */
    function showError(scope, err) {
        clearErrors(scope);
        const all = Array.from(scope.querySelectorAll(".field-error"));
        const slot = all.find(e => e.dataset.for === (err.field || "")) ||
            all.find(e => e.dataset.for === "");
        if (slot)
            slot.textContent = err.error;
        const input = scope.querySelector(`[data-field="${CSS.escape(err.field || "")}"]`);
        if (input)
            input.classList.add("invalid");
    }

    function clearErrors(scope) {
        scope.querySelectorAll(".field-error").forEach(e => { e.textContent = "" });
        scope.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid"));
    }

    // ---- rates -------------------------------------------------------------

    /* Frames a second over the workers' own publication times (the graph's
     * as_of_ms), so a late poll does not read as a dip. */
    let last = null;
    const rates = new Map();

    function updateRates(graph) {
        // The daemon's clock when its workers publish; the page's when no
        // worker runs (a kernel switch, or workers restarting). The two
        // never mix: a change of clock starts over.
        const clock = graph.as_of_ms ? "daemon" : "page";
        const t = graph.as_of_ms || Date.now();
        const now = new Map();
        for (const sw of graph.switches)
            for (const p of sw.ports)
                if (p.traffic)
                    now.set(p.id, p.traffic);
        if (!last || last.clock !== clock || t < last.t) {
            last = { t, clock, counters: now };
            return;
        }
        if (t > last.t) {
            const dt = (t - last.t) / 1000;
            // Rebuilt each window: a port gone or re-added keeps nothing.
            rates.clear();
            for (const [id, c] of now) {
                const b = last.counters.get(id);
                if (!b)
                    continue;
                // A counter that went back (the daemon restarted and
                // counts afresh): no rate until the next window.
                if (c.rx_frames < b.rx_frames || c.tx_frames < b.tx_frames)
                    continue;
                const drops = {};
                for (const [reason, n] of Object.entries(c.drops || {}))
                    drops[reason] = Math.max(0, n - ((b.drops || {})[reason] || 0)) / dt;
                rates.set(id, {
                    rx: (c.rx_frames - b.rx_frames) / dt,
                    tx: (c.tx_frames - b.tx_frames) / dt,
                    drops,
                });
            }
            last = { t, clock, counters: now };
        }
    }

    // ---- the picture -------------------------------------------------------

    const PW = 176; const PH = 60; // a port
    const RW = 150; const RH = 30; // a remote or router
    const GAP = 28; const PAD = 14; const TITLE = 44;

    function shape(graph) {
        // What the drawing depends on: everything but counters, states and
        // the adjacent bridge's answer (refreshPicture writes those).
        return JSON.stringify([
            graph.switches.map(sw => [sw.id, sw.kind, sw.mode, sw.backend,
                sw.ports.map(p => [p.id, p.role, p.kind, p.mode, p.vlan, p.relay, p.netns])]),
            graph.routers, graph.remotes, graph.links,
        ]);
    }

    /* Lays the graph out in rows: what lies beyond uplinks on top, the
     * switches (uplinks, then their other ports), what lies beyond the
     * ports, routers, and what lies beyond routers. */
    function layout(graph) {
        const pos = new Map(); // id -> {x, y, w, h}
        const role = new Map();
        const boxes = [];
        for (const sw of graph.switches)
            for (const p of sw.ports)
                role.set(p.id, p.role);
        // Each remote's row, by what it is linked to.
        const rowOf = new Map();
        const neighbours = new Map();
        for (const l of graph.links) {
            for (const [a, b] of [[l.from, l.to], [l.to, l.from]]) {
                if (!neighbours.has(a))
                    neighbours.set(a, []);
                neighbours.get(a).push(b);
            }
        }
        for (const r of graph.remotes) {
            const n = neighbours.get(r.id) || [];
            if (n.some(x => role.get(x) === "uplink"))
                rowOf.set(r.id, 0);
            else if (n.some(x => role.has(x)))
                rowOf.set(r.id, 2);
            else
                rowOf.set(r.id, 4);
        }
        const used = [0, 2, 4].filter(row => graph.remotes.some(r => rowOf.get(r.id) === row));
        let y = 16;
        const rowY = {};
        rowY[0] = y;
        if (used.includes(0))
            y += RH + GAP * 1.5;
        rowY[1] = y;
        let swHeight = 0;
        let x = 16;
        for (const sw of graph.switches) {
            const ups = sw.ports.filter(p => p.role === "uplink");
            const rest = sw.ports.filter(p => p.role !== "uplink");
            const cols = Math.max(1, ups.length, rest.length);
            const w = Math.max(cols * (PW + GAP) - GAP + 2 * PAD, 260);
            const hgt = TITLE + (ups.length ? PH + GAP : 0) + PH + PAD;
            boxes.push({ sw, x, y, w, h: hgt });
            const place = (ports, py) => {
                const total = ports.length * (PW + GAP) - GAP;
                let px = x + (w - total) / 2;
                for (const p of ports) {
                    pos.set(p.id, { x: px, y: py, w: PW, h: PH });
                    px += PW + GAP;
                }
            };
            place(ups, y + TITLE);
            place(rest, y + TITLE + (ups.length ? PH + GAP : 0));
            swHeight = Math.max(swHeight, hgt);
            x += w + GAP;
        }
        y += swHeight + GAP * 1.5;
        rowY[2] = y;
        if (used.includes(2))
            y += RH + GAP * 1.5;
        rowY[3] = y;
        if (graph.routers.length)
            y += RH + GAP * 1.5;
        rowY[4] = y;
        if (used.includes(4))
            y += RH + GAP;
        // Row members sit under (or over) what they are linked to, moved
        // right until they no longer overlap.
        const taken = { 0: [], 2: [], 3: [], 4: [] };
        const put = (id, row, w, hgt) => {
            const xs = (neighbours.get(id) || []).map(n => pos.get(n)).filter(Boolean)
                .map(p => p.x + p.w / 2);
            let px = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length - w / 2 : 16;
            px = Math.max(16, px);
            for (;;) {
                const clash = taken[row].find(([a, b]) => px < b + GAP / 2 && px + w > a - GAP / 2);
                if (!clash)
                    break;
                px = clash[1] + GAP / 2;
            }
            taken[row].push([px, px + w]);
            pos.set(id, { x: px, y: rowY[row], w, h: hgt });
        };
        for (const r of graph.remotes.filter(r => rowOf.get(r.id) !== 4))
            put(r.id, rowOf.get(r.id), RW, RH);
        for (const r of graph.routers)
            put(r.id, 3, RW, RH);
        for (const r of graph.remotes.filter(r => rowOf.get(r.id) === 4))
            put(r.id, 4, RW, RH);
        let width = x;
        for (const p of pos.values())
            width = Math.max(width, p.x + p.w + 16);
        return { pos, boxes, width, height: y + 8 };
    }

    function draw(graph) {
        const svg = document.getElementById("graph");
        while (svg.firstChild)
            svg.firstChild.remove();
        const { pos, boxes, width, height } = layout(graph);
        svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
        svg.setAttribute("width", width);
        svg.setAttribute("height", height);
        const frames = boxes.map(b => {
            const g = s("g", { class: "switch", "data-id": b.sw.id }, svg);
            s("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 10 }, g);
            s("text", { x: b.x + 12, y: b.y + 18, class: "title" }, g).textContent =
                `${b.sw.name} (${b.sw.kind} ${b.sw.mode}, ${b.sw.backend})`;
            s("text", { x: b.x + 12, y: b.y + 34, class: "detail", "data-relay-for": b.sw.id }, g);
            return g;
        });
        const centre = p => [p.x + p.w / 2, p.y + p.h / 2];
        const edges = s("g", { class: "links" }, svg);
        for (const l of graph.links) {
            const a = pos.get(l.from);
            const b = pos.get(l.to);
            if (!a || !b)
                continue;
            const [x1, y1] = centre(a);
            const [x2, y2] = centre(b);
            s("line", { x1, y1, x2, y2, "data-from": l.from, "data-to": l.to }, edges);
            if (l.label) {
                const t = s("text", { x: (x1 + x2) / 2 + 6, y: (y1 + y2) / 2, class: "link-label" }, edges);
                t.textContent = l.label;
            }
        }
        // The switch frames go over the links, so that a link never
        // hides a title (the titles have a halo, in CSS).
        for (const g of frames)
            svg.appendChild(g);
        for (const sw of graph.switches) {
            for (const p of sw.ports) {
                const at = pos.get(p.id);
                const g = s("g", { class: "port " + (p.role === "uplink" ? "uplink" : ""), "data-id": p.id }, svg);
                s("title", {}, g).textContent = p.id;
                s("rect", { x: at.x, y: at.y, width: at.w, height: at.h, rx: 6 }, g);
                s("text", { x: at.x + 8, y: at.y + 16, class: "name" }, g).textContent = p.name;
                const what = [p.kind, p.mode || p.role];
                if (p.vlan)
                    what.push(p.vlan);
                if (p.relay)
                    what.push("relay " + p.relay);
                s("text", { x: at.x + 8, y: at.y + 32, class: "detail" }, g).textContent = what.join(" · ");
                s("text", { x: at.x + 8, y: at.y + 49, class: "rate", "data-rate-for": p.id }, g);
            }
        }
        const small = (id, label, cls) => {
            const at = pos.get(id);
            const g = s("g", { class: cls, "data-id": id }, svg);
            if (cls === "remote")
                s("ellipse", { cx: at.x + at.w / 2, cy: at.y + at.h / 2, rx: at.w / 2, ry: at.h / 2 }, g);
            else
                s("rect", { x: at.x, y: at.y, width: at.w, height: at.h, rx: 4 }, g);
            s("text", { x: at.x + at.w / 2, y: at.y + at.h / 2 + 4, "text-anchor": "middle" }, g).textContent = label;
        };
        for (const r of graph.routers)
            small(r.id, "router " + r.name, "router");
        for (const r of graph.remotes)
            small(r.id, r.label, "remote");
    }

    /* Down as `vepa graph` draws it: "down: why" (not "up (...)" of a
     * bond, nor a BPDU guard's "blocked"). */
    function isDown(p) {
        return !!p.state && p.state.startsWith("down");
    }

    function refreshPicture(graph) {
        const svg = document.getElementById("graph");
        for (const sw of graph.switches) {
            const relay = svg.querySelector(`[data-relay-for="${CSS.escape(sw.id)}"]`);
            if (relay)
                relay.textContent = sw.reflective_relay ? "adjacent bridge reflects: " + sw.reflective_relay : "";
            for (const p of sw.ports) {
                const g = svg.querySelector(`g[data-id="${CSS.escape(p.id)}"]`);
                if (!g)
                    continue;
                g.classList.toggle("down", isDown(p));
                const r = rates.get(p.id);
                const t = g.querySelector("[data-rate-for]");
                t.textContent = r ? `rx ${rate(r.rx)}/s · tx ${rate(r.tx)}/s` : (p.state || "");
            }
        }
    }

    // ---- switches ----------------------------------------------------------

    const switchRows = new Map();

    function switchRow(sw) {
        const select = h("select", { "data-field": "mode" },
            ...POLICY.map(([m]) => h("option", { value: m }, m)));
        const row = h("tr", { "data-switch": sw.name },
            h("td", { class: "name" }, sw.name),
            h("td", {}, sw.kind),
            h("td", {}, select, h("span", { class: "field-error", "data-for": "mode" })),
            h("td", { "data-cell": "backend" }),
            h("td", { "data-cell": "relay" }),
            h("td", { "data-cell": "policy", class: "policy-line" },
                h("span", { "data-line": "" }),
                h("span", { class: "field-error", "data-for": "" })),
        );
        select.addEventListener("change", () => {
            change(row, "PATCH", "/v1/switches/" + encodeURIComponent(sw.name), { mode: select.value });
        });
        return row;
    }

    function updateSwitches(graph) {
        const body = document.querySelector("#switches tbody");
        const seen = new Set();
        for (const sw of graph.switches) {
            seen.add(sw.name);
            let row = switchRows.get(sw.name);
            if (!row) {
                row = switchRow(sw);
                switchRows.set(sw.name, row);
                body.append(row);
            }
            const select = row.querySelector("select");
            if (document.activeElement !== select && !row.dataset.busy)
                select.value = sw.mode;
            row.querySelector('[data-cell="backend"]').textContent = sw.backend;
            row.querySelector('[data-cell="relay"]').textContent = sw.reflective_relay || "–";
            row.querySelector('[data-cell="policy"] [data-line]').textContent = POLICY_OF[sw.mode] || "";
        }
        for (const [name, row] of switchRows) {
            if (!seen.has(name)) {
                row.remove();
                switchRows.delete(name);
            }
        }
        const pick = document.querySelector('#add-port [data-field="switch"]');
        const names = graph.switches.map(sw => sw.name);
        if (pick.dataset.names !== JSON.stringify(names)) {
            const keep = pick.value;
            pick.replaceChildren(...names.map(n => h("option", { value: n }, n)));
            if (names.includes(keep))
                pick.value = keep;
            pick.dataset.names = JSON.stringify(names);
        }
    }

    // ---- ports -------------------------------------------------------------

    const portRows = new Map();

    /* A change from a row or form: the API's field error lands next to
     * its field; success refreshes at once. */
    function change(scope, method, path, body) {
        if (scope.dataset.busy)
            return Promise.resolve(false);
        clearErrors(scope);
        scope.dataset.busy = "1";
        const buttons = Array.from(scope.querySelectorAll("button"));
        buttons.forEach(b => { b.disabled = true });
        const done = ok => {
            delete scope.dataset.busy;
            buttons.forEach(b => { b.disabled = b.dataset.locked === "1" });
            changes += 1;
            refresh();
            return ok;
        };
        return call(method, path, body).then(
            () => done(true),
            err => {
                showError(scope, err);
                return done(false);
            });
    }

    function portRow(sw, p) {
        const key = sw.name + "/" + p.name;
        const path = "/v1/switches/" + encodeURIComponent(sw.name) + "/ports/" + encodeURIComponent(p.name);
        const mode = h("select", { "data-field": "mode" },
            h("option", { value: "default" }, "switch's"),
            ...POLICY.map(([m]) => h("option", { value: m }, m)));
        const relay = h("select", { "data-field": "relay" },
            h("option", { value: "off" }, "off"),
            h("option", { value: "on" }, "on"),
            h("option", { value: "evb" }, "evb"));
        const vlan = h("input", { "data-field": "vlan", size: 5, inputmode: "numeric" });
        const setVlan = h("button", { type: "button", "data-action": "set-vlan" }, "Set");
        const remove = h("button", { type: "button", "data-action": "remove", class: "danger" }, "Remove");
        const row = h("tr", { "data-port": key },
            h("td", { class: "name" }, key),
            h("td", {}, p.role),
            h("td", {}, p.kind),
            h("td", {}, mode, h("span", { class: "field-error", "data-for": "mode" })),
            h("td", {}, relay, h("span", { class: "field-error", "data-for": "relay" })),
            h("td", {}, vlan, setVlan, h("span", { class: "field-error", "data-for": "vlan" })),
            h("td", { "data-cell": "state" }),
            h("td", { "data-cell": "rx", class: "num" }),
            h("td", { "data-cell": "tx", class: "num" }),
            h("td", { "data-cell": "drops", class: "drops" }),
            h("td", {}, remove, h("span", { class: "field-error", "data-for": "" })),
        );
        if (p.role === "uplink")
            mode.disabled = true;
        // A router's leg on the switch is the router's: `vepa router`
        // changes it, not a switch port's controls.
        if (p.role === "router") {
            for (const c of [mode, relay, vlan, setVlan, remove]) {
                c.disabled = true;
                c.dataset.locked = "1";
                c.title = "a router's port: change it with vepa router port";
            }
        }
        mode.addEventListener("change", () => change(row, "PATCH", path, { mode: mode.value }));
        relay.addEventListener("change", () => {
            const v = { off: false, on: true, evb: "evb" }[relay.value];
            change(row, "PATCH", path, { relay: v });
        });
        const sendVlan = () => {
            const text = vlan.value.trim();
            // A number goes as one; anything else goes as typed, and the
            // API says what it expected.
            const v = /^[0-9]+$/.test(text) ? Number(text) : text;
            change(row, "PATCH", path, { vlan: v }).then(ok => {
                if (ok)
                    delete vlan.dataset.dirty;
            });
        };
        vlan.addEventListener("input", () => { vlan.dataset.dirty = "1" });
        vlan.addEventListener("keydown", ev => {
            if (ev.key === "Enter")
                sendVlan();
        });
        setVlan.addEventListener("click", sendVlan);
        remove.addEventListener("click", () => {
            // Two clicks: the first arms the button.
            const disarm = () => {
                clearTimeout(Number(remove.dataset.armed));
                delete remove.dataset.armed;
                remove.textContent = "Remove";
            };
            if (!remove.dataset.armed) {
                remove.dataset.armed = String(setTimeout(disarm, 4000));
                remove.textContent = "Remove: sure?";
                return;
            }
            disarm();
            change(row, "DELETE", path);
        });
        return row;
    }

    function updatePorts(graph, views) {
        const body = document.querySelector("#ports tbody");
        const spec = new Map(views.map(v => [v.switch + "/" + v.spec.name, v.spec]));
        const seen = new Set();
        let at = 0;
        for (const sw of graph.switches) {
            for (const p of sw.ports) {
                const key = sw.name + "/" + p.name;
                seen.add(key);
                let row = portRows.get(key);
                // A port re-added as something else gets a new row.
                if (row && row.dataset.sig !== p.role + " " + p.kind) {
                    row.remove();
                    row = null;
                }
                if (!row) {
                    row = portRow(sw, p);
                    row.dataset.sig = p.role + " " + p.kind;
                    portRows.set(key, row);
                }
                // In the graph's order, moving a row only when it is out
                // of place (a moved row would lose the user's focus).
                if (body.children[at] !== row)
                    body.insertBefore(row, body.children[at] || null);
                at += 1;
                const own = spec.get(key) || {};
                const idle = el => document.activeElement !== el && !row.dataset.busy;
                const mode = row.querySelector('select[data-field="mode"]');
                if (idle(mode))
                    mode.value = own.mode || "default";
                const relay = row.querySelector('select[data-field="relay"]');
                if (idle(relay))
                    relay.value = own.relay === true ? "on" : own.relay === "evb" ? "evb" : "off";
                const vlan = row.querySelector('input[data-field="vlan"]');
                if (idle(vlan) && !vlan.dataset.dirty && p.role !== "router") {
                    vlan.value = own.trunk ? "" : String(own.vlan || 1);
                    vlan.placeholder = own.trunk ? "trunk " + own.trunk.join(",") : "";
                    // A VLAN set here would make a trunk an access port.
                    const trunk = own.trunk ? "1" : "";
                    const set = row.querySelector('button[data-action="set-vlan"]');
                    for (const c of [vlan, set]) {
                        c.disabled = !!trunk;
                        c.dataset.locked = trunk;
                        c.title = trunk ? "a trunk port: vepa port set --trunk changes its VLANs" : "";
                    }
                }
                row.querySelector('[data-cell="state"]').textContent = p.state || "–";
                row.classList.toggle("down", isDown(p));
                const r = rates.get(p.id);
                row.querySelector('[data-cell="rx"]').textContent = r ? rate(r.rx) : "–";
                row.querySelector('[data-cell="tx"]').textContent = r ? rate(r.tx) : "–";
                const drops = Object.entries((p.traffic && p.traffic.drops) || {}).filter(([, n]) => n > 0);
                row.querySelector('[data-cell="drops"]').replaceChildren(...drops.map(([reason, n]) => {
                    const per = r && r.drops[reason] ? ` (+${rate(r.drops[reason])}/s)` : "";
                    return h("div", { "data-reason": reason }, `${reason} ${n}${per}`);
                }));
            }
        }
        for (const [key, row] of portRows) {
            if (!seen.has(key)) {
                row.remove();
                portRows.delete(key);
            }
        }
    }

    function addPort(ev) {
        ev.preventDefault();
        const form = ev.target;
        const value = f => form.querySelector(`[data-field="${f}"]`).value.trim();
        const sw = value("switch");
        const body = { name: value("name"), type: value("type") };
        if (value("netns"))
            body.netns = value("netns");
        if (value("address"))
            body.address = value("address").split(/[\s,]+/).filter(Boolean);
        if (value("vlan"))
            body.vlan = /^[0-9]+$/.test(value("vlan")) ? Number(value("vlan")) : value("vlan");
        if (!sw) {
            showError(form, { field: "switch", error: "there is no switch to add a port to" });
            return;
        }
        change(form, "POST", "/v1/switches/" + encodeURIComponent(sw) + "/ports", body).then(ok => {
            if (ok)
                form.querySelectorAll("input").forEach(i => { i.value = "" });
        });
    }

    // ---- the loop ----------------------------------------------------------

    let drawn = null;
    let polling = false;
    // Changes made from the page: a poll that began before the latest
    // one finished may carry the old state, and is read again.
    let changes = 0;

    function showProblem(err) {
        const box = document.getElementById("problem");
        const content = document.getElementById("content");
        if (err) {
            box.textContent = err.error;
            box.hidden = false;
            // Nothing stays on screen that the API no longer vouches for.
            content.hidden = true;
            drawn = null;
            last = null;
            rates.clear();
            document.getElementById("status").textContent = "not connected";
        } else {
            box.hidden = true;
            content.hidden = false;
        }
    }

    function show(graph, views) {
        showProblem(null);
        updateRates(graph);
        const key = shape(graph);
        if (key !== drawn) {
            draw(graph);
            drawn = key;
        }
        refreshPicture(graph);
        updateSwitches(graph);
        updatePorts(graph, views);
        const status = document.getElementById("status");
        status.textContent = `${SOCKET} · updated ${new Date().toLocaleTimeString()}`;
        status.dataset.updated = String(Date.now());
    }

    function refresh() {
        if (polling)
            return;
        polling = true;
        const began = changes;
        Promise.all([call("GET", "/v1/graph"), call("GET", "/v1/ports")]).then(
            ([graph, views]) => {
                polling = false;
                if (began !== changes) {
                    refresh();
                    return;
                }
                try {
                    show(graph, views);
                } catch (e) {
                    // A fault of the page's own: said, not swallowed.
                    console.error(e);
                    showProblem({ error: "the vepa page failed: " + e.message });
                }
            },
            err => {
                polling = false;
                showProblem(err);
            });
    }

    document.addEventListener("DOMContentLoaded", () => {
        document.getElementById("policy").replaceChildren(...POLICY.flatMap(([m, line]) =>
            [h("dt", {}, m), h("dd", { "data-mode": m }, line)]));
        document.getElementById("add-port").addEventListener("submit", addPort);
        if (!SOCKET_OK) {
            showProblem({ error: "socket: the page's address may name only a vepa socket (an absolute path ending in /vepa.sock), not " + JSON.stringify(ASKED) });
            return;
        }
        refresh();
        setInterval(refresh, 1000);
    });
})();
