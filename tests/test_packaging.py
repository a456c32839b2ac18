"""What an installed package carries: one version, the typing marker."""

import ast
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


def _functions(tree):
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def test_the_package_keeps_its_sizes():
    # The sizes the code is kept within so that each piece reads in one
    # sitting: no function over 80 lines (docstring included), the
    # estimator's module at most 900 lines and its class at most 25 methods.
    package = Path(sklearn_tanhnet.__file__).parent
    too_long = []
    for path in sorted(package.glob("*.py")):
        for function in _functions(ast.parse(path.read_text())):
            length = function.end_lineno - function.lineno + 1
            if length > 80:
                too_long.append(f"{path.name}:{function.name} ({length} lines)")
    assert not too_long
    source = (package / "_estimator.py").read_text()
    assert source.count("\n") <= 900
    estimator = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == "TanhNetRegressor"
    )
    methods = [node for node in estimator.body if isinstance(node, ast.FunctionDef)]
    assert len(methods) <= 25
