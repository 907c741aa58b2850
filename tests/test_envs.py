"""envs/: the conda environment carries exactly the pip pins of envs/requirements.txt and nothing that Snakemake's
--sdm conda cannot follow (it creates the environment from a copy of the file, elsewhere)."""

import yaml
from conftest import REPO


def requirement_lines():
    text = (REPO / "envs" / "requirements.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_conda_env_pins_equal_requirements():
    env = yaml.safe_load((REPO / "envs" / "sdt.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip == requirement_lines()
    assert all("==" in line for line in pip)  # exact pins only
    # no relative references: no -r/-e/path lines, which a copied env file cannot resolve
    assert not [line for line in pip if line.startswith(("-", ".", "/")) or "file:" in line]
    assert {"python=3.11", "ffmpeg", "pip"} <= {d for d in env["dependencies"] if isinstance(d, str)}
