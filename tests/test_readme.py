"""The README is a newcomer's page: short, leading with how to run and read
a report; its sample is a report's unfolded top, as a run prints it."""
import re

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_is_read_in_five_minutes():
    assert len(README.splitlines()) <= 350


def test_its_sample_is_a_report_s_top_with_the_verdict_first():
    [sample] = re.findall(r"^````markdown\n(.*?)^````$", README, re.S | re.M)
    lines = sample.splitlines()
    assert lines[0] == "# Do async Django views make this app faster?"
    assert any(line.startswith("**On this machine, ") for line in lines[:5])
    assert len(lines) <= 40
    assert "|" in lines[4] and "capacity req/s" in lines[4]


def test_every_document_it_links_to_exists():
    for target in re.findall(r"\]\(((?:docs|tests)/[^)#]+)", README):
        assert (ROOT / target).exists(), target
