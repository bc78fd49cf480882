"""The documentation site: every page in the nav, generated pages and figures up to date,
the "not in functrans yet" list true, and (with MkDocs installed, as the test extra
installs it) the site building with ``mkdocs build --strict``.

The code blocks of the pages run in ``tests/test_examples.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav lists (``Title: page.md`` lines)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_every_page_is_in_the_nav():
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    listed = nav_pages()
    assert sorted(set(listed)) == sorted(listed), "a page is listed twice in mkdocs.yml"
    missing = sorted(set(pages) - set(listed))
    assert not missing, f"add {missing} to the nav of mkdocs.yml"
    gone = sorted(set(listed) - set(pages))
    assert not gone, f"mkdocs.yml lists pages that do not exist: {gone}"


def test_figures_are_drawn_by_the_current_library():
    """docs/figures/*.dot as `python docs/make_figures.py` draws them now; the SVGs
    exist, and say the same as a fresh rendering when Graphviz is installed."""
    out_of_date = load("make_figures").stale()
    assert not out_of_date, f"out of date: {out_of_date}: run python docs/make_figures.py"


def test_reference_pages_are_up_to_date():
    pages = load("make_api").reference_pages()
    committed = {p.name: p.read_text(encoding="utf-8")
                 for p in (DOCS / "reference").glob("*.md")}
    assert committed == pages, "docs/reference is stale: run python docs/make_api.py"


# ------------------------------------------------------------------ JAX differences

def missing_from_functrans(jax_name: str) -> bool:
    """True when functrans has no counterpart of `jax_name` (``jax.lax.map``), or of a
    parameter (``jax.grad(holomorphic=...)``)."""
    m = re.fullmatch(r"jax((?:\.\w+)*)(?:\((\w+)=\.\.\.\))?", jax_name)
    assert m, jax_name
    parts, parameter = m.group(1).lstrip(".").split("."), m.group(2)
    obj = importlib.import_module("functrans")
    for i, part in enumerate(parts):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module("functrans." + ".".join(parts[:i + 1]))
        except ImportError:
            return True
    if parameter is None:
        return False
    return parameter not in inspect.signature(obj).parameters


def test_the_not_yet_list_is_true():
    text = (DOCS / "jax_differences.md").read_text(encoding="utf-8")
    section = text.split("## Not in functrans yet", 1)[1]
    names = re.findall(r"`(jax\.[\w.]+(?:\(\w+=\.\.\.\))?)`", section)
    assert len(names) > 25  # the pattern still finds the names (the list shrinks)
    present = [n for n in names if not missing_from_functrans(n)]
    assert not present, (f"docs/jax_differences.md says functrans lacks {present}, but "
                         "it has them now: move them out of the list")


def test_the_check_of_the_list_can_fail():
    assert not missing_from_functrans("jax.lax.scan")
    assert not missing_from_functrans("jax.numpy.linalg.norm")
    assert not missing_from_functrans("jax.grad(has_aux=...)")
    assert missing_from_functrans("jax.jit(donate_argnums=...)")


# ------------------------------------------------------------------ the site

def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    front = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<title>functrans</title>" in front
    assert "integer_pow[y=2] u" in front and 'src="figures/z_table.svg"' in front
    for page in nav_pages():
        built = tmp_path / (page[:-3] + "/index.html" if page != "index.md" else "index.html")
        assert built.exists(), page
    reference = (tmp_path / "reference" / "learn" / "index.html").read_text(encoding="utf-8")
    assert "The course notes' table" in reference        # a docstring, rendered
