"""repro.py reads top down: no section refers to a later one.

Sections are delimited by banners, comment lines at the start of a line:

    # ---------------------------------------------------------------------------
    # Title of the section (may continue on following comment lines)
    # ---------------------------------------------------------------------------

Each top-level statement belongs to the last banner before it (its first
decorator included); statements above the first banner to a section of their
own, before all others.  A top-level name (of a def, a class, an assignment
or import target, also inside a top-level if/try/with/for) is defined in the
section of its first definition.  A statement refers to a later section when
it loads (an ast.Name in Load context, annotations included) a top-level name
defined in a later section, in a scope where that name is not local: not a
parameter, not assigned, imported, a for/with/except/comprehension target or
declared nonlocal in the enclosing function(s), nor assigned in the class
body it is read in.  A name declared global in a function is the top-level
one there.  Exempt: the function main and the assignment COMMANDS (the table
of commands), which sit at the end and name everything.

    python tests/sections.py repro.py    # the violations; exit 1 if any
"""
import ast
import io
import re
import sys
import tokenize
from typing import NamedTuple, Optional

BANNER_RULE = re.compile(r"# -{10,}\s*")
EXEMPT = {"main", "COMMANDS"}
BEFORE = "(before the first banner)"


class Section(NamedTuple):
    line: int  # of the banner's first rule
    title: str


def sections(source: str) -> list[Section]:
    """The banners of source, in order: where each begins and its title
    (its comment lines joined by spaces)."""
    comments = {}  # line -> text, for comments that are a line of their own at column 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.start[1] == 0:
            comments[tok.start[0]] = tok.string.rstrip()
    found, line, last = [], 1, max(comments, default=0)
    while line <= last:
        if BANNER_RULE.fullmatch(comments.get(line, "")):
            title, end = [], line + 1
            while end in comments and not BANNER_RULE.fullmatch(comments[end]):
                title.append(comments[end][1:].strip())
                end += 1
            if title and BANNER_RULE.fullmatch(comments.get(end, "")):
                found.append(Section(line, " ".join(t for t in title if t)))
                line = end + 1
                continue
        line += 1
    return found


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _targets(node: ast.AST) -> list[str]:
    """Names a top-level statement binds at module level (not inside the
    functions and classes it defines)."""
    names = []
    for sub in _walk_scope(node, top=True):
        names += _bound_by(sub)
    return names


def _bound_by(node: ast.AST) -> list[str]:
    """The names node itself binds in the scope it is in."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return [node.id]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"]
    if isinstance(node, ast.ExceptHandler) and node.name:
        return [node.name]
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        return [node.name]
    if isinstance(node, ast.MatchMapping) and node.rest:
        return [node.rest]
    return []


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk_scope(node: ast.AST, top: bool = False):
    """node and what it holds in the same scope: not the insides of the
    functions, lambdas, classes and comprehensions it holds (their
    decorators, defaults, annotations, bases and first iterable are in this
    scope; so is a walrus in a comprehension)."""
    yield node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not top:
        parts = [*node.decorator_list, *_annotations(node.args), node.returns,
                 *node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    elif isinstance(node, ast.Lambda):
        parts = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    elif isinstance(node, ast.ClassDef) and not top:
        parts = [*node.decorator_list, *node.bases, *node.keywords]
    elif isinstance(node, COMPREHENSIONS):
        parts = [node.generators[0].iter]
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                yield from _walk_scope(sub.target)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):  # top
        parts = []  # what a top-level def binds is its name only
    else:
        parts = list(ast.iter_child_nodes(node))
    for part in parts:
        if part is not None:
            yield from _walk_scope(part)


def _annotations(args: ast.arguments) -> list[ast.AST]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return [a.annotation for a in every if a is not None and a.annotation is not None]


def _parameters(args: ast.arguments) -> set[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


class _Scope:
    def __init__(self, kind: str, body: list[ast.AST], parameters: set[str] = frozenset()):
        self.kind = kind  # "function" or "class"
        self.local, self.globals = set(parameters), set()
        for node in body:
            for sub in _walk_scope(node):
                self.local.update(_bound_by(sub))
                if isinstance(sub, ast.Global):
                    self.globals.update(sub.names)
                elif isinstance(sub, ast.Nonlocal):
                    self.local.update(sub.names)
        self.local -= self.globals


def _global_loads(node: ast.AST, scopes: list[_Scope]):
    """The ast.Name nodes under node that load a module-level name, given
    the enclosing scopes (innermost last)."""
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and _is_global(node.id, scopes):
            yield node
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        outside = [*(node.args.defaults), *(d for d in node.args.kw_defaults if d is not None)]
        if not isinstance(node, ast.Lambda):
            outside += [*node.decorator_list, *_annotations(node.args), node.returns]
        for part in outside:
            if part is not None:
                yield from _global_loads(part, scopes)
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        inner = [*scopes, _Scope("function", body, _parameters(node.args))]
        for stmt in body:
            yield from _global_loads(stmt, inner)
        return
    if isinstance(node, ast.ClassDef):
        for part in [*node.decorator_list, *node.bases, *node.keywords]:
            yield from _global_loads(part, scopes)
        inner = [*scopes, _Scope("class", node.body)]
        for stmt in node.body:
            yield from _global_loads(stmt, inner)
        return
    if isinstance(node, COMPREHENSIONS):
        first, *rest = node.generators
        yield from _global_loads(first.iter, scopes)
        targets = [g.target for g in node.generators]
        inner = [*scopes, _Scope("function", targets)]
        for part in [first.target, *first.ifs, *rest,
                     *([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt])]:
            yield from _global_loads(part, inner)
        return
    for child in ast.iter_child_nodes(node):
        yield from _global_loads(child, scopes)


def _is_global(name: str, scopes: list[_Scope]) -> bool:
    for depth, scope in enumerate(reversed(scopes)):
        if scope.kind == "class" and depth > 0:
            continue  # a class body's names are not seen by the functions in it
        if name in scope.globals:
            return True
        if name in scope.local:
            return False
    return True


def _referrer(node: ast.stmt) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    names = _targets(node)
    return ", ".join(dict.fromkeys(names)) if names else f"<statement at line {node.lineno}>"


def violations(source: str) -> list[tuple[int, str, str, str, str]]:
    """Each top-level statement's first reference to each name defined in a
    later section: (line of the reference, the statement's top-level name,
    the name referred to, the statement's section title, the name's section
    title), in the order of the source."""
    tree = ast.parse(source)
    banners = sections(source)
    titles = [BEFORE, *(s.title for s in banners)]

    def section_of(line: int) -> int:
        """0 above the first banner, else 1 + the index of the last banner above line."""
        return sum(1 for s in banners if s.line < line)

    defined: dict[str, int] = {}
    for node in tree.body:
        for name in _targets(node):
            defined.setdefault(name, section_of(_first_line(node)))
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and "COMMANDS" in _targets(node):
            continue
        here, seen = section_of(_first_line(node)), set()
        for name in _global_loads(node, []):
            there = defined.get(name.id)
            if there is not None and there > here and name.id not in seen:
                seen.add(name.id)
                found.append((name.lineno, _referrer(node), name.id, titles[here], titles[there]))
    return sorted(found)


def _short(title: str, width: int = 50) -> str:
    return title if len(title) <= width else title[:width - 1] + "…"


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python tests/sections.py FILE.py", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        found = violations(f.read())
    for line, who, name, here, there in found:
        print(f"{argv[0]}:{line}: {who} refers to {name}, of a later section: "
              f"{_short(here)!r} -> {_short(there)!r}")
    print(f"{len(found)} reference(s) to a later section", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
