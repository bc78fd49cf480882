"""MkDocs hooks of the functrans site (mkdocs.yml names this file).

* The benchmark plot, ``benchmarks/results/results.png``, is written by
  ``python benchmarks/run.py --publish`` and not committed (.gitignore): when it exists,
  the Benchmarks page shows it; otherwise the page has the table alone.
* The pages link to files of the repository outside docs/ (``../examples/mlp.py``),
  which is right on GitHub but not on the site: there the link becomes its text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLOT = ROOT / "benchmarks" / "results" / "results.png"
LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)#\s]+)\)")
PLACEHOLDER = "<!-- benchmark plot -->"
SITE_NAME = "benchmark_results.png"


def on_files(files: Files, config: Any) -> Files:
    if PLOT.exists():
        files.append(File.generated(config, SITE_NAME, abs_src_path=str(PLOT)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    markdown = LINK.sub(lambda m: _outside_docs(m, page.file.src_uri), markdown)
    if page.file.src_uri != "benchmarks.md":
        return markdown
    plot = f"![Time (W7: memory) over the NumPy floor]({SITE_NAME})" if PLOT.exists() else ""
    return markdown.replace(PLACEHOLDER, plot)


def _outside_docs(link: re.Match, page: str) -> str:
    """A link to a repository file outside docs/ becomes its text; others stay."""
    target = (DOCS / page).parent.joinpath(link.group(2)).resolve()
    if DOCS in target.parents or not target.exists():
        return link.group(0)      # MkDocs checks these (and reports the missing ones)
    return link.group(1)
