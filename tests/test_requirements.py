"""repro.py declares what it needs inline (PEP 723 script metadata), so that
`uv run repro.py` runs it with no venv: the same list as requirements.txt."""
import platform
import re

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11's")

# The reference regular expression of PEP 723 (Inline script metadata).
BLOCK = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"


def metadata(script, kind="script"):
    """The TOML of the one block of that type, read as PEP 723 says: each
    line without its leading '# ' (or '#' alone); None without one."""
    found = [m for m in re.finditer(BLOCK, script) if m.group("type") == kind]
    assert len(found) <= 1, f"{len(found)} '{kind}' blocks; PEP 723 allows one"
    if not found:
        return None
    content = "".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in found[0].group("content").splitlines(keepends=True))
    return tomllib.loads(content)


def requirement_lines():
    """requirements.txt's requirements, in order, without comments and blank lines."""
    lines = [line.split("#", 1)[0].strip()
             for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line]


def test_the_reader_follows_pep_723():
    script = ("#!/usr/bin/env python3\n# /// script\n# requires-python = \">=3.10\"\n"
              "# dependencies = [\n#     \"django>=5.2\",\n# ]\n#\n# ///\nprint(1)\n"
              "# /// other\n# x = 1\n# ///\n")
    assert metadata(script) == {"requires-python": ">=3.10", "dependencies": ["django>=5.2"]}
    assert metadata(script, "other") == {"x": 1}
    assert metadata("# ///script\n# x = 1\n# ///\n") is None  # no space: not a block


def test_repro_declares_the_requirements_of_requirements_txt():
    meta = metadata((ROOT / "repro.py").read_text())
    assert meta is not None, "repro.py has no '# /// script' block"
    assert set(meta) <= {"requires-python", "dependencies", "tool"}, set(meta)
    # Each a valid PEP 508 requirement, the same in both (quotes aside).
    assert ([str(Requirement(x)) for x in meta["dependencies"]]
            == [str(Requirement(x)) for x in requirement_lines()])


def test_repro_declares_the_python_the_readme_asks_for():
    meta = metadata((ROOT / "repro.py").read_text())
    needs = SpecifierSet(meta["requires-python"])
    assert needs.contains(platform.python_version())  # the one running the tests
    oldest = re.search(r"with Python (3\.\d+) or newer", (ROOT / "README.md").read_text())
    assert oldest, "README.md no longer says which Python it needs"
    assert needs.contains(f"{oldest[1]}.0")
    assert not needs.contains(f"3.{int(oldest[1].split('.')[1]) - 1}.99")
