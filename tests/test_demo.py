import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_tanhnet.__main__ import main
from sklearn_tanhnet._demo import lecture_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Run ``tanhnet demo`` once; share its output and fits."""
    import contextlib
    import io

    from sklearn_tanhnet._demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo.png"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fits = run_demo(output=out)
    return out, buf.getvalue(), fits


def test_demo_writes_png_and_reports_both_solvers(demo_run):
    png, text, _ = demo_run
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("least_squares", "adam"):
        assert re.search(
            rf"^{name}\s+\d\.\d\de-\d\d\s+\d+\s+\d+\.\d+\s+\w+", text, re.M
        )


def test_demo_fits_reach_lecture_tolerance(demo_run):
    _, _, fits = demo_run
    X, y = lecture_data()
    for est in fits.values():
        assert np.mean((est.predict(X) - y) ** 2) <= 2e-5


def test_cli_rejects_unknown_command(capsys):
    with pytest.raises(SystemExit):
        main(["nonsense"])
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_help():
    res = subprocess.run(
        [sys.executable, "-m", "sklearn_tanhnet", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in res.stdout


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) == 2, "README shows two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
