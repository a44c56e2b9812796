"""repro.py reads top down: no section refers to a later one (tests/sections.py)."""
import subprocess
import sys
import textwrap

from conftest import ROOT
from sections import Section, sections, violations


def banner(*title):
    rule = "# " + "-" * 75
    return "\n".join([rule, *(f"# {line}" for line in title), rule]) + "\n"


def source(*parts):
    """Banners and dedented code, one after the other: a banner's first rule
    on line 1, its code from line 4."""
    return "".join(textwrap.dedent(p).lstrip("\n") for p in parts)


def test_banners_are_sections_with_titles_over_several_lines():
    text = source("import os\n", banner("Constants"), "X = 1\n",
                  banner("Comparing two setups: outcomes as data", "(which setup won)."),
                  "# --- a sub-heading is not a section ---------------------------\n",
                  's = """\n' + banner("Inside a string") + '"""\n')
    assert sections(text) == [Section(2, "Constants"),
                              Section(6, "Comparing two setups: outcomes as data (which setup "
                                         "won).")]


def test_a_function_calling_one_of_a_later_section_is_a_violation():
    text = source(banner("A"), """
        def report(x):
            return render(x) + render(x)
        """, banner("B"), """
        def render(x):
            return str(x)
        """)
    assert violations(text) == [(5, "report", "render", "A", "B")]


def test_a_later_section_may_refer_to_an_earlier_one_and_a_section_to_itself():
    text = source(banner("A"), """
        def render(x):
            return helper(x)

        def helper(x):
            return str(x)
        """, banner("B"), """
        def report(x):
            return render(x)
        """)
    assert violations(text) == []


def test_a_local_of_the_same_name_shadows_the_later_one():
    text = source(banner("A"), """
        def report(rows, render=str):
            return [render(r) for r in rows]

        def count(rows):
            total = 0
            for render in rows:
                total += render
            return total

        def nested(rows):
            import json as render
            def inner():
                return render.dumps(rows)
            return inner

        def comprehension(rows):
            return [render for render in rows]

        def declared():
            render = None
            def inner():
                nonlocal render
                render = 1
                return render
            return inner
        """, banner("B"), """
        def render(x):
            return str(x)
        """)
    assert violations(text) == []


def test_a_global_declaration_means_the_later_top_level_name():
    text = source(banner("A"), """
        def reset():
            global render
            render = None
            return render
        """, banner("B"), """
        def render(x):
            return str(x)
        """)
    assert violations(text) == [(7, "reset", "render", "A", "B")]


def test_a_class_body_s_names_are_not_locals_of_its_methods():
    text = source(banner("A"), """
        class Report:
            render = None

            def show(self):
                return render(self)
        """, banner("B"), """
        def render(x):
            return str(x)
        """)
    assert violations(text) == [(8, "Report", "render", "A", "B")]


def test_main_and_the_table_of_commands_may_refer_forward():
    text = source(banner("Command line"), """
        COMMANDS = {"run": run}

        def main(argv=None):
            return run(argv)
        """, banner("Running"), """
        def run(argv):
            return 0
        """)
    assert violations(text) == []


def test_a_class_annotation_referring_forward_is_a_violation():
    text = source(banner("Settings"), """
        from dataclasses import dataclass

        @dataclass
        class Config:
            setup: "str"
            cell: Cell
        """, banner("Cells"), """
        @dataclass
        class Cell:
            view: str
        """)
    assert violations(text) == [(9, "Config", "Cell", "Settings", "Cells")]


def test_a_parameter_annotation_is_read_outside_the_function():
    # The parameter of the same name does not shadow what its annotation reads.
    text = source(banner("A"), """
        def show(Cell: Cell) -> Cell:
            return Cell
        """, banner("B"), """
        class Cell:
            pass
        """)
    assert violations(text) == [(4, "show", "Cell", "A", "B")]


def test_a_module_level_statement_referring_forward_is_a_violation():
    text = source(banner("A"), """
        DEFAULT = make()
        """, banner("B"), """
        def make():
            return 1
        """)
    assert violations(text) == [(4, "DEFAULT", "make", "A", "B")]


def test_the_command_line_prints_each_violation_and_exits_1(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(source(banner("A"), "def f():\n    return g()\n", banner("B"),
                          "def g():\n    return 1\n"))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "sections.py"), str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == f"{bad}:5: f refers to g, of a later section: 'A' -> 'B'\n"
    good = tmp_path / "good.py"
    good.write_text(source(banner("A"), "def g():\n    return 1\n"))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "sections.py"), str(good)],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_repro_reads_top_down():
    assert violations((ROOT / "repro.py").read_text()) == []


def test_the_docstring_lists_the_sections_as_they_are():
    """Each section's title, up to its first comma, colon or parenthesis, is
    in the module docstring, in the file's order."""
    import ast
    import re
    text = (ROOT / "repro.py").read_text()
    doc = " ".join(ast.get_docstring(ast.parse(text)).lower().split())
    at = 0
    for section in sections(text):
        head = " ".join(re.split(r"[,:(;]| and its ", section.title)[0].lower().split())
        found = doc.find(head, at)
        assert found >= 0, f"the docstring does not list {head!r} where it should"
        at = found + len(head)
