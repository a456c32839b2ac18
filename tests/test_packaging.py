"""What an installed package carries: one version, the typing marker."""

import importlib.metadata
import re
from pathlib import Path

import sklearn_tanhnet

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def test_the_version_is_written_once():
    # pyproject.toml reads it from the package (setuptools' dynamic
    # version), so the installed metadata and __version__ agree.
    project = PYPROJECT.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.M)
    assert re.search(r'^dynamic\s*=\s*\["version"\]', project, re.M)
    assert importlib.metadata.version("sklearn-tanhnet") == sklearn_tanhnet.__version__


def test_the_package_is_marked_typed():
    assert (Path(sklearn_tanhnet.__file__).parent / "py.typed").is_file()
    assert re.search(r'^sklearn_tanhnet\s*=\s*\["py.typed"\]', PYPROJECT, re.M)


def test_the_changelog_names_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {sklearn_tanhnet.__version__}" in changelog
