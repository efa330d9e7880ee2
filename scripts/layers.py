#!/usr/bin/env python3
"""scripts/layers.py: the import rules of the source tree, checked.

1. Crates form floors: a crate may depend only on crates on lower floors
   (FLOORS below, lowest first). A workspace crate missing from FLOORS is
   an error, so a new crate has to be given its place.
2. Within each crate, no import circle between files. A file imports
   another when its code names an item through a `crate::`, `super::` or
   `self::` path (in a `use` or inline) that resolves into that file's
   module. A re-export (`pub use child::Item`) publishes rather than
   imports: it is no edge, and a name reached through it is followed to
   the file that defines it. `mod child;` alone is not an
   import, and test code (`#[cfg(test)]` modules and their files) is left
   out: tests may reach anywhere. The same holds between a crate's
   top-level modules, a folder counting as one.

3. In the dataplane, a frame's headers are read in one place,
   `parsed.rs` (the `Parsed` view every element is handed). Elsewhere,
   code other than tests calls none of the header readers (READERS),
   but for the few places in ALLOWED that read a packet of their own
   making or quote one in an error.

Prints each circle with the names that tie it (and each stray header
read), and exits 1 if there is one. `--graph CRATE` prints that crate's file-level imports instead.
Run from anywhere: `python3 scripts/layers.py`.
"""
import os
import re
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lowest first. Each crate may depend on crates listed before it.
FLOORS = [
    "vepa-packet",
    "vepa-kernel",
    "vepa-dataplane",
    "vepa-openflow",
    "vepa-io",
    "vepa-api",
    "vepa-host",
    "vepa-daemon",
    "vepa-cni",
    "vepa",
]


# The packet crate's header readers, and the dataplane's older ways in.
READERS = [
    "EthernetFrame::new_checked(",
    "Ipv4View::parse(",
    "Ipv6View::parse(",
    "ArpPacket::new_checked(",
    "Ipv6Chain::walk(",
    "L3Packet::from_ip(",
    "flow::extract(",
]
# (file under crates/dataplane/src, reader): why it may read.
ALLOWED = {
    ("parsed.rs", r): "the one reader" for r in READERS
}
ALLOWED.update({
    ("router/icmp.rs", "Ipv4View::parse("): "an ICMP error quotes the packet that caused it",
    ("router/icmp.rs", "Ipv6View::parse("): "an ICMP error quotes the packet that caused it",
    ("l3/reject.rs", "Ipv4View::parse("): "a reject's answer is built from the refused packet",
    ("l3/reject.rs", "Ipv6View::parse("): "a reject's answer is built from the refused packet",
    ("l3/packet.rs", "Ipv4View::parse("): "L3Packet::from_ip, for packets the router makes",
    ("l3/packet.rs", "Ipv6View::parse("): "L3Packet::from_ip, for packets the router makes",
    ("router/mod.rs", "L3Packet::from_ip("): "the router routes an answer it made",
})


def stray_header_reads():
    """Header reads in the dataplane outside parsed.rs and ALLOWED."""
    base = os.path.join(ROOT, "crates", "dataplane", "src")
    out = []
    for d, _, files in os.walk(base):
        for fn in sorted(files):
            if not fn.endswith(".rs") or fn == "tests.rs":
                continue
            path = os.path.join(d, fn)
            r = os.path.relpath(path, base)
            with open(path) as f:
                code, _ = drop_test_code(strip_comments_and_strings(f.read()))
            for reader in READERS:
                if reader in code and (r, reader) not in ALLOWED:
                    out.append(f"crates/dataplane/src/{r}: reads headers with {reader[:-1]}; take them from its Parsed")
    return out


def strip_comments_and_strings(src):
    """Blank out comments, string and char literals, keeping offsets."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 20]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", src[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", src[i:j + 1]))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.|\\x[0-9a-fA-F]{2}|\\u\{[0-9a-fA-F]+\}|[^\\'])'", src[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(src, open_brace):
    depth = 0
    for j in range(open_brace, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(src)


CFG_TEST = re.compile(r"#\[cfg\((?:all\()?test[^\]]*\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*([;{])")


def drop_test_code(src):
    """Removes #[cfg(test)] inline modules; returns (code, test module names declared with `mod x;`)."""
    test_files = set()
    while True:
        m = CFG_TEST.search(src)
        if not m:
            return src, test_files
        if m.group(2) == ";":
            test_files.add(m.group(1))
            src = src[:m.start()] + " " * (m.end() - m.start()) + src[m.end():]
        else:
            end = block_end(src, m.end() - 1)
            src = src[:m.start()] + re.sub(r"[^\n]", " ", src[m.start():end]) + src[end:]


class Crate:
    def __init__(self, name, root_file):
        self.name = name
        self.files = {}  # module path tuple -> file
        self.code = {}  # file -> code without comments, strings, tests
        self.module_of = {}  # file -> module path tuple
        self.load(root_file, ())

    def load(self, path, modpath):
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        code = strip_comments_and_strings(raw)
        code, test_mods = drop_test_code(code)
        self.files[modpath] = path
        self.module_of[path] = modpath
        self.code[path] = code
        base = os.path.dirname(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in ("lib", "main", "mod"):
            base = os.path.join(base, stem)
        for m in re.finditer(r"(?m)^\s*((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
            child = m.group(2)
            if child in test_mods:
                continue
            # A #[path] attribute (its string was blanked: read the source).
            attr = re.search(r'#\[path\s*=\s*"([^"]+)"\]', raw[m.start():m.end()])
            cands = [os.path.join(os.path.dirname(path), attr.group(1))] if attr else []
            for cand in cands + [os.path.join(base, child + ".rs"), os.path.join(base, child, "mod.rs")]:
                if os.path.exists(cand):
                    self.load(cand, modpath + (child,))
                    break

    def resolve(self, file, path):
        """A `crate::`/`super::`/`self::` path named in `file` -> (file it lands in, last name)."""
        here = self.module_of[file]
        segs = path
        if segs[0] == "crate":
            mod, segs = (), segs[1:]
        else:
            mod = here
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    mod = mod[:-1]
                segs = segs[1:]
        while segs and mod + (segs[0],) in self.files:
            mod, segs = mod + (segs[0],), segs[1:]
        target = self.files[mod]
        name = segs[0] if segs else (mod[-1] if mod else "crate")
        return target, name

    def reexports(self, file):
        """name -> file a name re-exported by `pub use` in `file` is defined in."""
        out = {}
        for tree in use_trees(self.code[file], public_only=True):
            for path in tree:
                if path[0] in ("crate", "self", "super") or self.module_of[file] + (path[0],) in self.files:
                    p = path if path[0] in ("crate", "self", "super") else ("self",) + path
                    target, name = self.resolve(file, p)
                    if target != file:
                        out[path[-1] if path[-1] != "*" else "*"] = target
        return out

    def edges(self):
        reex = {f: self.reexports(f) for f in self.code}
        edges = {}
        for file, code in self.code.items():
            paths = []
            for tree in use_trees(re.sub(r"(?s)\bpub(?:\([^)]*\))?\s+use\s[^;]*;", " ", code)):
                for path in tree:
                    if path[0] in ("crate", "self", "super"):
                        paths.append(path)
                    elif self.module_of[file] + (path[0],) in self.files:
                        paths.append(("self",) + path)
            stripped = re.sub(r"(?s)\buse\s[^;]*;", " ", code)
            for m in re.finditer(r"(?<![\w:])(\w+(?:\s*::\s*\w+)+)", stripped):
                path = tuple(s.strip() for s in m.group(1).split("::"))
                if path[0] in ("crate", "self", "super"):
                    paths.append(path)
                elif self.module_of[file] + (path[0],) in self.files:
                    paths.append(("self",) + path)  # a child module's item
            for path in paths:
                target, name = self.resolve(file, path)
                if target == file:
                    continue
                # Follow a re-export to the file that defines the name.
                seen = 0
                while name in reex.get(target, {}) and seen < 8:
                    target, seen = reex[target][name], seen + 1
                if target != file:
                    edges.setdefault(file, {}).setdefault(target, set()).add(name)
        return edges


def use_trees(code, public_only=False):
    """Each `use` statement as its list of full paths (tuples)."""
    pat = r"(?s)\bpub(?:\([^)]*\))?\s+use\s+([^;]*);" if public_only else r"(?s)\buse\s+([^;]*);"
    for m in re.finditer(pat, code):
        yield expand(re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@", m.group(1))))


def expand(tree, prefix=()):
    tree = tree.lstrip(":")
    if "{" not in tree:
        path = tree.split("@")[0]  # `Item as Alias` was written `Item@Alias`
        segs = tuple(s for s in path.split("::") if s)
        return [prefix + segs] if segs else []
    head, _, rest = tree.partition("{")
    inner = rest[: rest.rfind("}")]
    pre = prefix + tuple(s for s in head.split("::") if s)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p == "self":
            out.append(pre)
        elif p:
            out.extend(expand(p, pre))
    return out


def tarjan(nodes, edges):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def workspace_crates():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    out = []
    for m in members:
        with open(os.path.join(ROOT, m, "Cargo.toml"), "rb") as f:
            manifest = tomllib.load(f)
        name = manifest["package"]["name"]
        deps = [d for d in manifest.get("dependencies", {}) if d.startswith("vepa")]
        roots = [os.path.join(ROOT, m, "src", r) for r in ("lib.rs", "main.rs")]
        out.append((m, name, deps, [r for r in roots if os.path.exists(r)]))
    return out


def circles(edges, nodes, label, why):
    """Each circle among `nodes`: its members, and the ties between them."""
    out = []
    for comp in tarjan(nodes, edges):
        lines = []
        for a in comp:
            for b, names in sorted(edges.get(a, {}).items()):
                if b in comp:
                    lines.append(f"{label(a)} -> {label(b)}: {why(names)}")
        out.append((", ".join(label(c) for c in comp), lines))
    return out


def rel(p):
    return os.path.relpath(p, ROOT)


def main():
    failed = False
    crates = workspace_crates()
    checked = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--graph":
        for m, name, _, roots in crates:
            if name == sys.argv[2]:
                for root in roots:
                    for f, ts in sorted(Crate(name, root).edges().items()):
                        for t, names in sorted(ts.items()):
                            print(f"{rel(f)} -> {rel(t)}: {', '.join(sorted(names))}")
        return 0
    for m, name, deps, roots in crates:
        if m in ("tests", "fuzz/bodies"):
            continue  # test crates may use every crate
        checked += 1
        if name not in FLOORS:
            print(f"{m}: crate {name} has no floor in scripts/layers.py FLOORS")
            failed = True
            continue
        for d in deps:
            if d not in FLOORS or FLOORS.index(d) >= FLOORS.index(name):
                print(f"{m}: {name} depends on {d}, which is not below it")
                failed = True
        for root in roots:
            crate = Crate(name, root)
            edges = crate.edges()
            found = circles(edges, crate.code.keys(), rel, lambda names: ", ".join(sorted(names)))
            # The same between a crate's top-level modules (a folder and
            # everything in it counts as one).
            top = {f: crate.module_of[f][:1] for f in crate.code}
            tops = {}
            for f, ts in edges.items():
                for t, names in ts.items():
                    a, b = top[f], top[t]
                    if a and b and a != b:
                        tops.setdefault(a, {}).setdefault(b, set()).update(f"{rel(f)} -> {rel(t)}: {n}" for n in names)
            found += circles(tops, {m for m in top.values() if m}, "::".join, lambda why: "; ".join(sorted(why)[:4]))
            for title, lines in found:
                failed = True
                print(f"circle in {name}: {title}")
                for line in lines:
                    print(f"  {line}")
    for line in stray_header_reads():
        failed = True
        print(line)
    if not failed:
        print(f"layers: {checked} crates on their floors, no import circles, headers read once")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
