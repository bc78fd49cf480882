"""The examples run, print the numbers they promise, and every code block in the docs runs.

* Each script in ``examples/`` runs as ``python examples/<name>.py`` in a subprocess and
  must exit 0 and print its key numbers.
* Every ```` ```python ```` block in README.md and docs/*.md is executed, the blocks of one
  file in order and in one namespace (later blocks use names defined earlier). A block whose
  first line is ``# doctest: skip`` is not run. When a python block is followed directly by
  a ```` ```text ```` block, that block is the expected output: what the python block prints
  must match it (trailing spaces aside, long floats compared to 10 significant digits).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import functrans

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SKIP_MARK = "# doctest: skip"
# Written for contributors; its snippets are fragments of functrans' own modules.
NOT_USER_DOCS: set[str] = set()


def run_example(name: str, *args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def numbers_after(label: str, text: str) -> list[float]:
    """The numbers on the first line containing `label`, after it."""
    for line in text.splitlines():
        if label in line:
            tail = line.split(label, 1)[1]
            return [float(n) for n in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", tail)]
    raise AssertionError(f"no line with {label!r} in:\n{text}")


# ------------------------------------------------------------------------------ examples

def test_backprop_tour():
    out = run_example("backprop_tour.py")
    # the note's hand-derived dots and bars at u = 1.5, next to functrans' values
    assert numbers_after("ż = z·ẏ", out) == pytest.approx([-0.922389, -0.922389], abs=1e-6)
    assert numbers_after("ū = v̄·2u", out) == pytest.approx([-0.922389, -0.922389], abs=1e-6)
    assert numbers_after("ȳ = z", out) == pytest.approx([1.879420, 1.879420], abs=1e-6)
    assert numbers_after("v̇ = 2u·u̇", out) == pytest.approx([3.0, 3.0])
    for label in ("ż  (forward, ft.jvp)", "ū  (reverse, ft.grad)", "hand-derived"):
        assert numbers_after(label, out) == pytest.approx([-0.922389097828155], rel=1e-12)
    # the three jaxprs: the graph, the linear (JVP) map, the backward pass
    assert out.count("{ lambda") == 3
    assert "sin" in out and "cos" in out and "exp" in out


def test_backprop_tour_other_point():
    out = run_example("backprop_tour.py", "0.7")
    hand, lib = numbers_after("ū = v̄·2u", out)
    assert hand == pytest.approx(lib, abs=1e-6)


def test_mlp(tmp_path):
    plot = tmp_path / "mlp.png"
    out = run_example("mlp.py", "--plot", str(plot))
    assert numbers_after("hand-derived backward pass: max difference", out)[0] < 1e-12
    assert numbers_after("batch gradient: max difference", out)[0] < 1e-12
    assert "W1 (8, 32, 64)" in out
    first, last = numbers_after("loss went from", out)
    assert last < 0.5 * first
    assert out.count("  epoch ") >= 5                          # progress while training
    if importlib.util.find_spec("sklearn"):
        assert "scikit-learn's handwritten digits" in out
        assert numbers_after("test accuracy:", out)[0] > 0.85
    if importlib.util.find_spec("matplotlib"):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_higher_order():
    out = run_example("higher_order.py")
    for label in ("ft.grad(fnp.tanh)(x)", "ft.grad(ft.grad(fnp.tanh))(x)",
                  "ft.grad(ft.grad(ft.grad(fnp.tanh)))(x)"):
        lines = out.split(label, 1)[1].splitlines()
        got, hand = float(lines[0].split()[-1]), float(lines[1].split()[-1])
        assert got == pytest.approx(hand, rel=1e-6)
    for label in ("max |H - Aᵀ diag", "max |H - Hᵀ|", "max |H v - hvp|",
                  "max |jacfwd - jacrev|", "max |jacrev - diag"):
        assert numbers_after(label, out)[-1] < 1e-12, label


def test_distributed():
    for module in ("dask.array", "distributed", "array_api_compat"):
        pytest.importorskip(module)
    out = run_example("distributed.py")
    assert "chunks along the batch (2500, 2500, 2500)" in out
    assert numbers_after("first chunk vs NumPy: max difference", out)[-1] < 1e-12
    assert numbers_after("parameters vs NumPy: max difference", out)[-1] < 1e-12
    tasks = int(out.split("task graph: ", 1)[1].split()[0])
    assert 8 <= tasks < 1000  # one graph over the 8 chunks, not one per example


# ------------------------------------------------------------------------------ doc blocks

@dataclass
class Block:
    path: Path
    line: int            # line of the opening fence, 1-based
    code: str
    expected: str | None  # the ```text block right after it, if any


FENCE = re.compile(r"^[ \t]*```(\w*)[ \t]*$")


def doc_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    fenced: list[tuple[str, int, int, str]] = []    # (language, open line, close line, body)
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            body = textwrap.dedent("\n".join(lines[start + 1:i]))
            fenced.append((m.group(1), start, i, body))
        i += 1
    blocks = []
    for k, (lang, start, close, body) in enumerate(fenced):
        if lang != "python":
            continue
        expected = None
        if k + 1 < len(fenced) and fenced[k + 1][0] == "text":
            gap = lines[close + 1:fenced[k + 1][1]]
            if all(not s.strip() for s in gap):
                expected = fenced[k + 1][3]
        blocks.append(Block(path, start + 1, body, expected))
    return blocks


def doc_files() -> list[Path]:
    docs = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in NOT_USER_DOCS)
    return [ROOT / "README.md", *docs]


LONG_FLOAT = re.compile(r"-?\d+\.\d{8,}(?:e[-+]?\d+)?")


def normalise(text: str) -> str:
    """Trailing spaces dropped; long floats rounded to 10 digits, so that a last-place
    difference between libm implementations does not fail a documented output."""
    text = LONG_FLOAT.sub(lambda m: f"{float(m.group()):.10g}", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_doc_code_blocks_run(path: Path):
    blocks = doc_blocks(path)
    namespace: dict = {"__name__": "__doc__"}
    for block in blocks:
        if block.code.lstrip().startswith(SKIP_MARK):
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, f"{path.name}:{block.line}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{path.name}, block at line {block.line} raised "
                                 f"{type(e).__name__}: {e}\n---\n{block.code}") from e
        if block.expected is not None:
            assert normalise(out.getvalue()) == normalise(block.expected), (
                f"{path.name}, block at line {block.line}: printed output differs from the "
                f"text block after it.\n--- printed:\n{out.getvalue()}\n--- documented:\n"
                f"{block.expected}")


def test_every_user_doc_has_code():
    for path in doc_files():
        if path.name in ("README.md", "api.md", "primitives.md"):  # generated tables
            continue
        assert doc_blocks(path), f"{path.name} has no python block"


# The floors below the public layer and the base modules (docs/internals.md): not public.
INTERNAL = {"core", "primitives", "compile", "transforms", "higher_order", "api", "errors",
            "config", "dtypes"}


def public_modules() -> list[ModuleType]:
    """Every module of functrans outside the internal floors, no name part private."""
    names = ["functrans"] + [
        info.name for info in pkgutil.walk_packages(functrans.__path__, "functrans.")
        if info.name.split(".")[1] not in INTERNAL
        and not any(part.startswith("_") for part in info.name.split(".")[1:])]
    return [importlib.import_module(name) for name in names]


def exported(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
    return [n for n in names if not isinstance(getattr(module, n), ModuleType)]


def test_api_reference_names_every_public_name():
    """Each public module has a section in docs/api.md naming every name it exports."""
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    sections = api.split("\n## ")
    missing = []
    for module in public_modules():
        section = next((s for s in sections if f"Module `{module.__name__}`" in s), None)
        if section is None:
            missing.append(f"{module.__name__} (no section)")
            continue
        missing += [f"{module.__name__}.{name}" for name in exported(module)
                    if not re.search(rf"`[\w.]*\.{re.escape(name)}[(`]", section)]
    assert not missing, (f"docs/api.md does not describe {missing}: run "
                         "`python docs/make_api.py` (and add a description if needed)")


# Modules whose dir() still shows the names they import; their owners are to add
# ``__all__`` and ``def __dir__(): return sorted(__all__)`` (or import under _names).
NOT_YET_CLEAN: tuple[str, ...] = ()


def _is_public_submodule(module: Any, name: str) -> bool:
    """`module.name` is a module of functrans (``nn.initializers``, ``numpy.linalg``)."""
    value = getattr(module, name)
    return isinstance(value, types.ModuleType) and value.__name__.startswith("functrans.")


def test_module_namespaces_show_only_public_names():
    """``dir(fnp.linalg)`` lists the module's API, not ``np``, ``lax`` or ``partial``."""
    leaks = {}
    for module in public_modules():
        if module.__name__.startswith(NOT_YET_CLEAN):
            continue
        public = set(exported(module))
        extra = [n for n in dir(module) if n[0] != "_" and n not in public
                 and not _is_public_submodule(module, n)]
        if extra:
            leaks[module.__name__] = extra
    assert not leaks, f"dir() shows names that are not part of the API: {leaks}"
