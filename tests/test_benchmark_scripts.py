"""The benchmark scripts' command lines, run on a small case."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def stationarity():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import stationarity
    finally:
        sys.path.remove(str(BENCHMARKS))
    return stationarity


def test_stationarity_takes_its_data_sets_and_parameters(stationarity, capsys):
    params = "{'hidden_layer_sizes': (3,), 'run_to_mode': True}"
    stationarity.main(["--datasets", "diabetes", "--params", params])
    out = capsys.readouterr().out
    assert out.startswith("diabetes: 442 rows, fit ")
    assert "1 of 1 networks at a stationary point" in out
    assert "friedman1" not in out
