"""The front door: README.md under 10 KB, every image and relative link in it and in docs/ exists (and every
#anchor names a heading there), the animation under 3 MB, and the mkdocs site builds with warnings as errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def without_code(text: str) -> str:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slugs(path: Path) -> tuple[set[str], set[str]]:
    """The #anchors of a Markdown file's headings, as GitHub and as mkdocs (Python-Markdown's toc) make them."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    github_slugs, mkdocs_slugs = set(), set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M):
        h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", re.sub(r"`([^`]*)`", r"\1", heading))
        github = re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        ascii_ = unicodedata.normalize("NFKD", h).encode("ascii", "ignore").decode()
        mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_).strip().lower())
        github_slugs.add(github)
        mkdocs_slugs.add(mkdocs)
    return github_slugs, mkdocs_slugs


def links(path: Path) -> list[tuple[bool, str]]:
    return [(bool(bang), target) for bang, _, target in LINK.findall(without_code(path.read_text(encoding="utf-8")))
            if not re.match(r"(https?:|mailto:)", target)]


def test_the_readme_is_read_in_two_minutes_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) <= 10_000
    first = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert first[0].startswith("bash scripts/install.sh && .venv/bin/streamlit run app.py")
    assert first[1].startswith("bash scripts/install.sh test && .venv/bin/python -m pytest")
    images = [t for bang, t in links(ROOT / "README.md") if bang]
    assert len(images) >= 6 and any(t.endswith((".gif", ".webp")) for t in images)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_image_link_and_anchor_exists(path):
    broken = []
    for _, target in links(path):
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no file {os.path.relpath(dest, ROOT)}")
            continue
        if path.parent.name == "docs" and ROOT / "docs" not in dest.parents:
            broken.append(f"{target}: leaves docs/ (the site would not have it)")
        if anchor and dest.suffix == ".md":
            github, site = slugs(dest)
            if anchor not in github or anchor not in site:  # it must work on GitHub and on the site
                broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, broken


def test_the_animation_is_under_3_mb():
    gifs = list((ROOT / "docs" / "images").glob("*.gif"))
    assert gifs and all(g.stat().st_size < 3 * 2**20 for g in gifs)


def test_the_docs_site_builds_with_warnings_as_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "lessons" / "index.html").exists()
