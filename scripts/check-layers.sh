#!/usr/bin/env bash
# Prints the module graph of src/'s top-level modules and fails on any cycle between them.
# An edge A -> B is a `crate::B...` path (also inside `use crate::{...}` groups and `$crate::`
# in a macro A defines) or a `super::` chain that climbs to the crate root and names B, in any
# file of module A (src/A.rs or src/A/**). Comments are ignored; lib.rs (the crate root, which
# only declares and re-exports) is not a module of its own.
#   usage: scripts/check-layers.sh [src-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "${1:-src}" <<'PY'
import os, re, sys

src = sys.argv[1]
tops = set()
for name in os.listdir(src):
    p = os.path.join(src, name)
    if os.path.isdir(p) and (os.path.exists(os.path.join(p, "mod.rs"))
                             or os.path.exists(os.path.join(src, name + ".rs"))):
        tops.add(name)
    elif name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
        tops.add(name[:-3])

def strip(text):
    # drops // comments (line and doc) and /* */ blocks; keeps string contents (good enough:
    # no string of the crate spells a crate path)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)

def group_heads(body):
    # first path segment of every item of a `{a, b::c, d::{e, f}}` group (top level only)
    heads, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ",":
            heads.append(cur); cur = ""
        elif depth == 0 or ch not in "{}":
            cur += ch if depth == 0 else ""
    heads.append(cur)
    out = []
    for h in heads:
        m = re.match(r"\s*(?:r#)?([A-Za-z_][A-Za-z0-9_]*)", h)
        if m:
            out.append(m.group(1))
    return out

def match_brace(text, i):
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text)

edges = {t: {} for t in tops}   # module -> {target: first "file:line"}
for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        parts = rel.split(os.sep)
        if parts == ["lib.rs"]:
            continue
        top = parts[0][:-3] if len(parts) == 1 else parts[0]
        # depth of the file's module below the crate root (a/mod.rs is as deep as a.rs)
        depth = len(parts) - (1 if f == "mod.rs" else 0)
        text = strip(open(path, encoding="utf-8").read())
        def add(target, pos):
            if target in tops and target != top:
                line = text.count("\n", 0, pos) + 1
                edges[top].setdefault(target, f"{path}:{line}")
        for m in re.finditer(r"(?<![A-Za-z0-9_])\$?crate::", text):
            rest = text[m.end():]
            if rest.startswith("{"):
                end = match_brace(text, m.end())
                for h in group_heads(text[m.end() + 1:end]):
                    add(h, m.start())
            else:
                n = re.match(r"(?:r#)?([A-Za-z_][A-Za-z0-9_]*)", rest)
                if n:
                    add(n.group(1), m.start())
        for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:super::)+)", text):
            if m.group(1).count("super::") < depth:
                continue
            rest = text[m.end():]
            if rest.startswith("{"):
                end = match_brace(text, m.end())
                for h in group_heads(text[m.end() + 1:end]):
                    add(h, m.start())
            else:
                n = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", rest)
                if n:
                    add(n.group(1), m.start())

print("module graph of %s/ (top-level modules; A -> B: A's files name crate::B):" % src)
for t in sorted(tops):
    deps = sorted(edges[t])
    print("  %-10s -> %s" % (t, ", ".join(deps) if deps else "(leaf)"))

# cycles: Tarjan's strongly connected components; each one with more than one module is
# reported with one cycle through it and the references that make it
index, low, onstack, stack, sccs, counter = {}, {}, set(), [], [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); onstack.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in onstack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); onstack.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in sorted(tops):
    if v not in index:
        visit(v)

def cycle_in(comp):
    comp = set(comp)
    start = min(comp)
    # shortest path from start back to start inside the component (BFS)
    prev, queue, seen = {}, [start], {start}
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v]):
            if w not in comp:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in seen:
                seen.add(w); prev[w] = v; queue.append(w)
    return [start]

bad = [c for c in sccs if len(c) > 1]
if not bad:
    print("no cycle between the top-level modules of %s/" % src)
    sys.exit(0)
for comp in bad:
    cyc = cycle_in(comp)
    print("CYCLE: " + " -> ".join(cyc), file=sys.stderr)
    for a, b in zip(cyc, cyc[1:]):
        print("    %s -> %s at %s" % (a, b, edges[a][b]), file=sys.stderr)
sys.exit(1)
PY
