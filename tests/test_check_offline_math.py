"""docs/check_offline_math.py, which .ci/run runs on the built docs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).parents[1] / "docs" / "check_offline_math.py"
MATH = '<span class="math notranslate nohighlight">\\(x^2\\)</span>'
LOCAL = '<script defer src="../_static/mathjax/tex-svg-full.js?v=1"></script>'


def _site(tmp_path, script, body=MATH, mathjax_exists=True):
    """A built site of one page with math, in a subfolder like the gallery's."""
    page = tmp_path / "auto_examples" / "page.html"
    page.parent.mkdir()
    page.write_text(f"<html><head>{script}</head><body><p>{body}</p></body></html>")
    (tmp_path / "index.html").write_text("<html><body>no math</body></html>")
    if mathjax_exists:
        mathjax = tmp_path / "_static" / "mathjax" / "tex-svg-full.js"
        mathjax.parent.mkdir(parents=True)
        mathjax.write_text("// MathJax")
    return tmp_path


def _check(site):
    return subprocess.run(
        [sys.executable, str(CHECK), str(site)], capture_output=True, text=True
    )


def test_local_mathjax_passes(tmp_path):
    result = _check(_site(tmp_path, LOCAL))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "script, site_options, message",
    [
        (
            '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">'
            "</script>",
            {},
            "loads MathJax from the network",
        ),
        (
            '<script src="//cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"></script>',
            {},
            "loads MathJax from the network",
        ),
        ("", {}, "has math but loads no local MathJax"),
        (LOCAL, {"mathjax_exists": False}, "does not exist"),
        (
            '<script src="../../mathjax/tex-svg-full.js"></script>',
            {},
            "is outside the site",
        ),
        (LOCAL, {"body": "no formula"}, 'no page under .* has class="math"'),
    ],
)
def test_math_that_needs_the_network_fails(tmp_path, script, site_options, message):
    result = _check(_site(tmp_path, script, **site_options))
    assert result.returncode == 1
    assert re.search(message, result.stderr), result.stderr


def test_empty_directory_fails(tmp_path):
    result = _check(tmp_path)
    assert result.returncode == 1
    assert "build the docs first" in result.stderr
