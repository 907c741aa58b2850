"""The documentation: every relative Markdown link and #anchor resolves, the README stays short, and every key of
config/config.yaml is described in config/README.md."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250
DOCS = sorted(
    {
        ROOT / "README.md",
        ROOT / "config" / "README.md",
        ROOT / "config" / "published" / "README.md",
        ROOT / "benchmarks" / "README.md",
        ROOT / "tests" / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "profiles").glob("**/README.md"),
    }
)
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"`[^`]*`")


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield number, line


def slug(heading):
    """GitHub's anchor of a heading: markup dropped, lowercase, punctuation but '-' and '_' dropped, spaces -> '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"[`*]", "", text).strip().lower()  # code and emphasis markers (underscores are kept)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor of a Markdown file, duplicates numbered as GitHub does (-1, -2, ...)."""
    seen, result = {}, set()
    for _, line in prose_lines(path.read_text()):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def links(path):
    """(line number, target) of every link in the prose of a Markdown file."""
    for number, line in prose_lines(path.read_text()):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            yield number, match.group(1)


def test_the_documents_exist():
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    for needed in ("README.md", "config/README.md", "docs/dataset.md", "docs/methods.md", "profiles/slurm/README.md",
                   "benchmarks/README.md", "tests/README.md"):
        assert needed in names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_anchors_resolve(doc):
    broken = []
    for number, target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"line {number}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"line {number}: {target}: no heading with anchor #{anchor}")
    assert not broken, f"{doc.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines (at most {README_MAX_LINES}): move reference to docs/"


def config_keys(tree, prefix=()):
    """Every key path of a nested mapping."""
    for key, value in tree.items():
        yield (*prefix, str(key))
        if isinstance(value, dict):
            yield from config_keys(value, (*prefix, str(key)))


def test_config_readme_describes_every_key():
    """Each key of config.yaml appears in config/README.md as `key`, in the section of its top-level key."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    text = (ROOT / "config" / "README.md").read_text()
    sections = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^##\s+`?([A-Za-z_]+)`?\s*$", line)
        if match:
            current = match.group(1)
        if current:
            sections[current] = sections.get(current, "") + line + "\n"
    missing = []
    for path in config_keys(config):
        top, name = path[0], path[-1]
        if top not in sections:
            missing.append(f"{top} (no '## {top}' section)")
            continue
        if len(path) == 1:
            continue  # a top-level key is its section
        if len(path) == 2 and top in ("speakers", "train_presets"):
            home = sections[top]  # a speaker's or a preset's name, in its section
        elif top == "train_presets":
            home = sections["train"]  # a preset's keys are train keys
        else:
            home = sections[top]
        if f"`{name}`" not in home and not (top == "speakers" and len(path) == 2 and f"{name}:" in home):
            missing.append(".".join(path))
    assert not missing, "config/README.md does not describe: " + ", ".join(missing)
