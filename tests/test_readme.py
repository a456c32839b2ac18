"""The README's parameter table against the estimator's signature."""

import ast
import re
from pathlib import Path

import pytest

from sklearn_tanhnet import TanhNetRegressor

README = Path(__file__).resolve().parent.parent / "README.md"
# Deprecated parameters stay out of the table (the user guide lists them).
DEPRECATED = {"n_restarts", "ensemble"}


def parameter_table():
    """``{name: default text}`` of the rows of "Parameters in brief"."""
    text = README.read_text()
    section = text.split("### Parameters in brief", 1)[1]
    rows = {}
    for line in section.splitlines()[3:]:  # past the header and its rule
        if not line.startswith("|"):
            break
        names, defaults = (cell.strip() for cell in line.strip("|").split("|")[:2])
        names = re.findall(r"`([^`]+)`", names)
        defaults = re.findall(r"`([^`]+)`", defaults)
        assert len(names) == len(defaults), line
        for name, default in zip(names, defaults):
            assert name not in rows, f"{name} twice in the README's table"
            rows[name] = default
    return rows


def test_the_readme_table_lists_every_parameter_once():
    params = set(TanhNetRegressor().get_params()) - DEPRECATED
    assert set(parameter_table()) == params


@pytest.mark.parametrize(
    "name", sorted(set(TanhNetRegressor().get_params()) - DEPRECATED)
)
def test_the_readme_table_gives_each_default(name):
    default = TanhNetRegressor().get_params()[name]
    assert ast.literal_eval(parameter_table()[name]) == default
