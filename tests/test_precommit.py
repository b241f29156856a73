"""The real pre-commit tool runs k2t's hooks (.pre-commit-hooks.yaml) on a throw-away repository.

The k2t repository the hooks come from is a snapshot of this working tree (uncommitted changes
included) committed in a temporary git repository; pre-commit installs it into its own virtual
environment under a temporary PRE_COMMIT_HOME, with the converter's dependencies only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
KERAS = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"

# pre-commit comes with the test extra and git with every CI machine: their absence is a failure.
assert PRE_COMMIT.exists(), f"pre-commit is not installed beside {sys.executable}"
assert shutil.which("git"), "git is not installed"


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "k2t tests",
        "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "k2t tests",
        "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),  # no user git config
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def snapshot_of_this_tree(dest: Path) -> str:
    """Copy the working tree (tracked and untracked, not ignored files) into a new repo; its commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "k2t snapshot")
    return git(dest, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("k2t-repo")
    return repo, snapshot_of_this_tree(repo)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def project(tmp_path: Path, hooks_repo, hook_id: str) -> Path:
    repo, rev = hooks_repo
    proj = tmp_path / "project"
    proj.mkdir()
    (proj / "model.py").write_text(KERAS)
    (proj / "clean.py").write_text("x = 1\n")
    (proj / "legacy").mkdir()
    (proj / "legacy" / "old.py").write_text(KERAS)  # not migrated yet: excluded in pyproject.toml
    (proj / "pyproject.toml").write_text('[tool.k2t]\nexclude = ["legacy"]\n')
    config = {"repos": [{"repo": repo.as_uri(), "rev": rev, "hooks": [{"id": hook_id}]}]}
    (proj / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(proj, "init", "-q")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "a Keras project")
    return proj


def pre_commit(proj: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("CI", None)
    return subprocess.run(
        [str(PRE_COMMIT), "run", *args], cwd=proj, env=env, capture_output=True, text=True, timeout=900
    )


def test_hooks_file_offers_check_and_convert():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"k2t-check", "k2t-convert"}
    # --force-exclude: [tool.k2t] exclude applies to the file names pre-commit passes, too.
    assert hooks["k2t-check"]["entry"] == "k2t check --force-exclude"
    assert hooks["k2t-convert"]["entry"] == "k2t convert --in-place --force-exclude"
    assert all(h["language"] == "python" and "python" in h["types_or"] for h in hooks.values())


def test_check_hook_fails_while_keras_remains(tmp_path, hooks_repo, pre_commit_home):
    proj = project(tmp_path, hooks_repo, "k2t-check")
    result = pre_commit(proj, pre_commit_home, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "model.py:3:9: K2T001 translatable by k2t convert: keras.Sequential" in result.stdout
    assert "clean.py" not in result.stdout.replace("k2t check", "")
    assert "legacy" not in result.stdout
    assert (proj / "model.py").read_text() == KERAS  # check writes nothing
    # Once the file is torch, the hook passes.
    (proj / "model.py").write_text("import torch\n\nlayer = torch.nn.Linear(3, 2)\n")
    git(proj, "add", "-A")
    result = pre_commit(proj, pre_commit_home, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    # The hook's environment has the converter only: no TensorFlow, no torch.
    envs = list(pre_commit_home.glob("repo*/py_env-*"))
    assert envs
    site = {p.name.split("-")[0].lower() for env in envs for p in env.glob("lib/python*/site-packages/*")}
    assert {"libcst", "black", "click", "k2t"} <= site
    assert not site & {"tensorflow", "torch", "keras"}


def test_convert_hook_rewrites_and_fails_then_passes(tmp_path, hooks_repo, pre_commit_home):
    proj = project(tmp_path, hooks_repo, "k2t-convert")
    result = pre_commit(proj, pre_commit_home, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "files were modified by this hook" in result.stdout
    converted = (proj / "model.py").read_text()
    assert "class Model(nn.Module)" in converted and "keras" not in converted
    assert (proj / "clean.py").read_text() == "x = 1\n"
    assert (proj / "legacy" / "old.py").read_text() == KERAS
    # Staged as is, the translation passes: converting it again changes nothing.
    git(proj, "add", "-A")
    result = pre_commit(proj, pre_commit_home, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (proj / "model.py").read_text() == converted
