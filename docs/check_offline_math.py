"""Check that the built documentation's formulas render with no network.

Usage: ``python docs/check_offline_math.py docs/_build/html``

Every built page with math (Sphinx marks it ``class="math"``) must load MathJax
from a file inside the built site, and no page may load it from a URL. Opened
offline, a page that loads MathJax from a CDN shows raw ``\\( ... \\)`` instead.
Exit status 0 when the site passes, 1 with one line per problem otherwise.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _PageScan(HTMLParser):
    """Collects the script sources of one page and whether it holds math."""

    def __init__(self):
        super().__init__()
        self.script_sources = []
        self.has_math = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.script_sources.append(attrs["src"])
        if "math" in (attrs.get("class") or "").split():
            self.has_math = True


def _is_remote(source):
    # "//cdn.example/x.js" has no scheme but still goes to the network.
    parts = urlsplit(source)
    return bool(parts.scheme or parts.netloc)


def _local_file(page, source):
    return (page.parent / unquote(urlsplit(source).path)).resolve()


def check_site(build_dir):
    """Problems found in the built site, as messages (none: it passes)."""
    build_dir = Path(build_dir).resolve()
    pages = sorted(build_dir.rglob("*.html"))
    if not pages:
        return [f"no HTML pages under {build_dir}: build the docs first"]
    problems = []
    n_math_pages = 0
    for page in pages:
        scan = _PageScan()
        scan.feed(page.read_text(encoding="utf-8"))
        name = page.relative_to(build_dir)
        mathjax = [s for s in scan.script_sources if "mathjax" in s.lower()]
        for source in mathjax:
            if _is_remote(source):
                problems.append(f"{name}: loads MathJax from the network: {source}")
        if not scan.has_math:
            continue
        n_math_pages += 1
        local = [s for s in mathjax if not _is_remote(s)]
        if not local:
            problems.append(f"{name}: has math but loads no local MathJax")
        for source in local:
            path = _local_file(page, source)
            if not path.is_relative_to(build_dir):
                problems.append(f"{name}: MathJax {source} is outside the site")
            elif not path.is_file():
                problems.append(f"{name}: MathJax {source} does not exist")
    # A site with no math at all passes trivially; it more likely means the
    # check no longer recognises Sphinx's math markup.
    if n_math_pages == 0:
        problems.append(f'no page under {build_dir} has class="math"')
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    problems = check_site(argv[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"offline math: every page with math loads MathJax from {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
