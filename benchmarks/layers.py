"""The package's structure, measured: import cycles (counting imports inside functions),
the share of internal imports at module level, the longest functions and modules, and lines per
layer. ``python benchmarks/layers.py [--json]``; the figures in docs/architecture.md come from it.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1] / "jjj_sim"
LAYERS = ("core", "sim", "runner", "reporting", "tools")


def _internal_imports(tree: ast.Module):
    """(node, at module level?) for every import of jjj_sim in ``tree``."""
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jjj_sim"):
            yield node, id(node) in top
        elif isinstance(node, ast.Import) and any(a.name.startswith("jjj_sim") for a in node.names):
            yield node, id(node) in top


def measure() -> dict:
    """The figures, as a dict."""
    graph = grimp.build_graph("jjj_sim", include_external_packages=False)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    top = lazy = 0
    functions, modules, layers = [], [], dict.fromkeys(LAYERS, 0)
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for _node, at_top in _internal_imports(tree):
            top, lazy = top + at_top, lazy + (not at_top)
        rel = path.relative_to(ROOT)
        n = len(text.splitlines())
        modules.append((str(rel), n))
        if rel.parts[0] in layers:
            layers[rel.parts[0]] += n
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((f"{rel}:{node.name}", node.end_lineno - node.lineno + 1))
    functions.sort(key=lambda f: -f[1])
    modules.sort(key=lambda m: -m[1])
    return {"cycles": cycles, "internal_imports": top + lazy, "at_module_level": top,
            "share_at_module_level": round(top / (top + lazy), 3), "longest_functions": functions[:5],
            "functions_over_80": [f for f in functions if f[1] > 80], "largest_modules": modules[:5],
            "modules_over_600": [m for m in modules if m[1] > 600], "lines_per_layer": layers,
            "lines_total": sum(n for _, n in modules)}


def _strongly_connected(graph) -> list[set[str]]:
    """Tarjan's strongly connected components of grimp's module graph (iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                out.append(comp)
    return out


if __name__ == "__main__":
    m = measure()
    if "--json" in sys.argv:
        print(json.dumps(m, indent=1))
    else:
        print(f"import cycles (imports inside functions counted): {len(m['cycles'])} {m['cycles'] or ''}")
        print(f"internal imports at module level: {m['at_module_level']} of {m['internal_imports']} "
              f"({100 * m['share_at_module_level']:.0f}%)")
        print("longest functions:", ", ".join(f"{f} {n}" for f, n in m["longest_functions"]))
        print("largest modules:", ", ".join(f"{f} {n}" for f, n in m["largest_modules"]))
        print(f"functions over 80 lines: {len(m['functions_over_80'])}; modules over 600 lines: {len(m['modules_over_600'])}")
        print("lines per layer:", ", ".join(f"{k} {v}" for k, v in m["lines_per_layer"].items()), f"(total {m['lines_total']})")
