"""sdt.provenance: a step's code is its script's import closure inside the project, and the digest follows it."""

import shutil

from conftest import REPO

from sdt.provenance import code_digest, import_closure


def names(paths, root):
    return {str(p.relative_to(root)) for p in paths}


def test_closure_follows_indirect_and_lazy_imports():
    unet = ("sdt.families.unet", "models.generator")  # a U-Net job's code modules (sdt.families.Family)
    closure = names(import_closure(REPO / "workflow_scripts" / "train.py", REPO, unet), REPO)
    # train.py -> sdt.train.train -> sdt.train.run; the family's step module -> models.generator -> models.blocks
    assert {"workflow_scripts/train.py", "sdt/train/train.py", "sdt/train/run.py", "sdt/families/unet.py",
            "models/generator.py", "models/blocks.py", "sdt/train/__init__.py", "models/__init__.py"} <= closure
    assert "sdt/evaluate/evaluate.py" in closure  # validation every epoch is the evaluation's code
    assert "sdt/dataset/detect_keypoints.py" not in closure and "sdt/evaluate/paper_tables.py" not in closure
    # the families are loaded by name: another family's code is not in a U-Net method's closure, nor the reverse
    assert "models/moglow.py" not in closure and "sdt/families/moglow.py" not in closure
    moglow = names(import_closure(REPO / "workflow_scripts" / "train.py", REPO, ("sdt.families.moglow",)), REPO)
    assert "models/moglow.py" in moglow and "sdt/families/unet.py" not in moglow
    # a function-level import counts: inference.load_gesture_model imports release_checkpoint inside a function
    demo = names(import_closure(REPO / "workflow_scripts" / "demo.py", REPO), REPO)
    assert "sdt/release_checkpoint.py" in demo and "sdt/train/run.py" not in demo


def test_digest_changes_with_imported_code_only(tmp_path):
    for name in ("sdt", "models", "workflow_scripts"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    fps, train = tmp_path / "workflow_scripts" / "change_fps.py", tmp_path / "workflow_scripts" / "train.py"
    before = {s: code_digest(s, tmp_path) for s in (fps, train)}
    assert before == {s: code_digest(REPO / "workflow_scripts" / s.name, REPO) for s in (fps, train)}  # moved tree
    unet, moglow = ("sdt.families.unet",), ("sdt.families.moglow",)
    steps = {m: code_digest(train, tmp_path, m) for m in (unet, moglow)}
    flow = tmp_path / "models" / "moglow.py"
    flow.write_text(flow.read_text() + "\n# an edit\n")
    assert code_digest(train, tmp_path, moglow) != steps[moglow] and code_digest(train, tmp_path, unet) == steps[unet]
    block = tmp_path / "models" / "blocks.py"
    block.write_text(block.read_text() + "\n# an edit\n")
    assert code_digest(train, tmp_path, unet) != steps[unet]  # imported two modules down
    assert code_digest(fps, tmp_path) == before[fps]  # change_fps never imports models
