"""Run the benchmark suite: W1-W7 against the hand-written NumPy floor and the peers.

    python benchmarks/run.py                 # everything (a few minutes)
    python benchmarks/run.py --only W1,W2    # some workloads
    python benchmarks/run.py --quick         # fewer rounds
    python benchmarks/run.py --publish       # into benchmarks/results/ (committed)

Writes ``results.md`` (a table), ``results.json`` (every sample) and ``results.png``
(when matplotlib is installed) into a new temporary folder, or ``--out DIR``; only
``--publish`` writes them to ``benchmarks/results/``, over the committed results.
Each workload prints a line as it starts and one per round. Rounds interleave the
implementations; each figure is the median (min, max) over the rounds of the time
per call, and the ratio is median / the floor's median. Before timing, every
implementation's result is checked against the floor's.

BLAS runs single-threaded (set here, before NumPy loads) and the process is pinned
to one core; OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE, set on some machines for old OpenBLAS builds, are unset for
this command alone (they slow a current NumPy).
"""

from __future__ import annotations

import os
import sys

import harness

#: for memory workloads only (a child process): large arrays always mmapped, so
#: freed memory leaves the process and the resident size shows the live arrays
_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


if __name__ == "__main__":
    harness.restart_with_blas_threads()

# the environment is set: now NumPy may load
import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import ALL, Workload  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

#: the goals, as ratios to the floor (jit, eager); memory goals in MiB. Eager goals
#: are issue 14's ("eager grad at the speed of the fastest tape"), stricter than the
#: first benchmark issue's for W2, W3 and W5
GOALS = {"W1": (3, 30), "W2": (1.5, 3), "W3": (1.05, 1.2), "W4": (1.02, 1.1),
         "W5": (3, 15), "W6-1000": (1.0, 3), "W7": (170, 210)}


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} "
                     f"{i.get('architecture')} threads={i.get('num_threads')}"
                     for i in threadpool_info())


# ------------------------------------------------------------------ timing

def _time(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def _calibrate(fn: Callable[[], Any], target: float) -> int:
    """Calls per sample for samples of about `target` seconds, from the fastest of a
    few calls: an implementation that compiles on its first calls (functrans' eager
    rules, JAX's jit) would otherwise get samples of a handful of calls, which a
    garbage collection or a cache miss then dominates. First calls are reported on
    their own (`first_calls`)."""
    t = min(_time(fn, 1) for _ in range(5))
    return max(1, int(target / max(t, 1e-7)))


def verify(wl: Workload) -> dict[str, str]:
    """Every implementation's numbers against the floor's; mismatches are dropped."""
    reference = wl.impls["numpy floor"]
    expected = reference.to_arrays(reference.run())
    problems = {}
    for name, impl in list(wl.impls.items()):
        try:
            got = impl.to_arrays(impl.run())
            assert len(got) == len(expected), f"{len(got)} results, expected {len(expected)}"
            for g, e in zip(got, expected):
                np.testing.assert_allclose(np.asarray(g).reshape(np.shape(e)), e, rtol=wl.rtol,
                                           atol=wl.rtol)
        except Exception as e:  # noqa: BLE001  (reported in the table)
            problems[name] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:120]}"
            del wl.impls[name]
    return problems


def time_workload(wl: Workload, rounds: int, target: float) -> dict[str, list[float]]:
    numbers = {name: _calibrate(impl.run, target) for name, impl in wl.impls.items()}
    samples: dict[str, list[float]] = {name: [] for name in wl.impls}
    for i in range(rounds):
        for name, impl in wl.impls.items():
            samples[name].append(_time(impl.run, numbers[name]))
        _progress(i, rounds)
    return samples


def _progress(i: int, rounds: int) -> None:
    """``  round 1 2 3 ... 9`` on one line, a number as each round ends."""
    print("  round" if i == 0 else "", i + 1, end="\n" if i + 1 == rounds else "",
          flush=True)


def first_calls(wl: Workload, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, impl in wl.impls.items():
        if impl.fresh is not None:
            out[name] = []
            for _ in range(repeats):
                call = impl.fresh()
                t0 = time.perf_counter()
                call()
                out[name].append(time.perf_counter() - t0)
    return out


# ------------------------------------------------------------------ memory

def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn: Callable[[], Any]) -> float:
    """Peak resident memory above the level before the call, in MiB (sampled)."""
    base = _rss()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            time.sleep(0.0005)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        result = fn()
        peak = max(peak, _rss())
    finally:
        done.set()
        thread.join()
    del result
    return (peak - base) / 2**20


def memory_in_child(key: str, quick: bool) -> dict[str, Any]:
    """Run a memory workload in a child process with the allocator set for it."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, __file__, "--only", key, "--out", tmp, "--memory-child"]
        if quick:
            argv.append("--quick")
        subprocess.run(argv, env={**os.environ, **_MEMORY_ENV}, check=True)
        return json.loads((Path(tmp) / "results.json").read_text())["results"][key]


def memory_workload(wl: Workload, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in wl.impls}
    for i in range(rounds):
        for name, impl in wl.impls.items():
            samples[name].append(peak_memory(impl.run))
        _progress(i, rounds)
    return samples


# ------------------------------------------------------------------ report

def _fmt_time(t: float) -> str:
    for scale, unit in ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s")):
        value = t / scale
        if value < 1000 or unit == "s":
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{t:.3g} s"


def summary_table(results: dict[str, Any]) -> list[str]:
    """One line per workload: the floor, functrans against its goals, the best peer."""
    lines = ["| workload | floor | functrans jit | goal | functrans eager | goal | best peer |",
             "|---|---|---|---|---|---|---|"]
    for key, r in results.items():
        summ = r["summary"]
        floor = summ["numpy floor"]["median"]
        goal = GOALS.get(key, ("", ""))
        peers = {n: s for n, s in summ.items()
                 if n not in ("numpy floor", "functrans eager", "functrans jit")}
        if r["memory"]:
            def show(name):
                return f"+{summ[name]['median']:.0f} MiB" if name in summ else "—"
            best = min(peers, key=lambda n: peers[n]["median"]) if peers else None
            floor_text = f"+{floor:.0f} MiB"
            best_text = f"{best} {show(best)}" if best else "—"
        else:
            def show(name):
                return f"{summ[name]['ratio']:.2f}×" if name in summ else "—"
            best = min(peers, key=lambda n: peers[n]["median"]) if peers else None
            floor_text = _fmt_time(floor)
            best_text = f"{best} {show(best)}" if best else "—"
        jit = show("functrans jit")
        first = r.get("first_call", {}).get("functrans jit")
        if first:
            jit += f" (first call {_fmt_time(statistics.median(first))})"
        lines.append(f"| {key} {r['title']} | {floor_text} | {jit} | {goal[0]} | "
                     f"{show('functrans eager')} | {goal[1]} | {best_text} |")
    return lines


def summarize(samples: dict[str, list[float]], floor: float | None) -> dict[str, dict]:
    out = {}
    for name, xs in samples.items():
        med = statistics.median(xs)
        out[name] = dict(median=med, min=min(xs), max=max(xs), samples=xs,
                         ratio=(med / floor if floor else None))
    return out


def markdown(results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = ["# functrans benchmarks", "",
             f"{meta['date']}, {meta['machine']}, NumPy {meta['numpy']}, BLAS: {meta['blas']}.",
             "Medians over interleaved rounds (min–max); ratio = median / NumPy floor median.",
             "Peers: " + ", ".join(f"{k} {v}" for k, v in meta["peers"].items()), "",
             "## Summary (ratios to the floor; W7 in MiB above the level before the call)", ""]
    lines += summary_table(results) + [""]
    for key, r in results.items():
        memory = r["memory"]
        goal = GOALS.get(key)
        lines += [f"## {key}: {r['title']}", ""]
        if goal:
            unit = " MiB" if memory else "×"
            lines.append(f"Goal: functrans jit ≤ {goal[0]}{unit}, eager ≤ {goal[1]}{unit}.")
            lines.append("")
        lines += ["| implementation | median | min | max | ratio to floor |",
                  "|---|---|---|---|---|"]
        for name, s in r["summary"].items():
            if memory:
                lines.append(f"| {name} | +{s['median']:.0f} MiB | +{s['min']:.0f} | "
                             f"+{s['max']:.0f} | {s['ratio']:.2f}× |")
            else:
                lines.append(f"| {name} | {_fmt_time(s['median'])} | {_fmt_time(s['min'])} | "
                             f"{_fmt_time(s['max'])} | {s['ratio']:.2f}× |")
        for name, xs in r.get("first_call", {}).items():
            lines.append(f"| {name}, first call (trace + compile) | "
                         f"{_fmt_time(statistics.median(xs))} | {_fmt_time(min(xs))} | "
                         f"{_fmt_time(max(xs))} | |")
        for name, problem in r["problems"].items():
            lines.append(f"| {name} | not timed: {problem} | | | |")
        lines.append("")
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = list(results)
    names = sorted({n for r in results.values() for n in r["summary"]})
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(keys)), 4.5))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, key in enumerate(keys):
            s = results[key]["summary"].get(name)
            if s and s["ratio"]:
                xs.append(j + i * width)
                ys.append(s["ratio"])
        ax.bar(xs, ys, width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))], keys)
    ax.set_ylabel("time (W7: memory) / NumPy floor")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def _peer_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("autograd", "jax", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def pin_to_one_core() -> str:
    """Every implementation on one core: BLAS is single-threaded, and XLA's or
    PyTorch's own thread pools must not use the second core either."""
    try:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
        return f"pinned to core {cores[-1]}"
    except (AttributeError, OSError):
        return "not pinned"


def output_folder(out: str | None, publish: bool) -> Path:
    """--out if given; the committed results folder only with --publish; else a new
    temporary folder, so that a partial or quick run never replaces published numbers."""
    if out is not None and publish:
        raise SystemExit("run.py: give --out or --publish, not both")
    if publish:
        folder = RESULTS
    elif out is not None:
        folder = Path(out)
    else:
        folder = Path(tempfile.mkdtemp(prefix="functrans-benchmarks-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated workloads")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", default=None,
                        help="output folder (default: a new temporary folder)")
    parser.add_argument("--publish", action="store_true",
                        help=f"write into {RESULTS.relative_to(RESULTS.parent.parent)}/, "
                             "replacing the committed results")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out_dir = output_folder(args.out, args.publish)
    if not args.memory_child:
        print(f"results will go to {out_dir}", flush=True)
    if args.memory_child:  # memory is not timing: let the sampling thread run freely
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        pinned = "not pinned (memory)"
    else:
        pinned = pin_to_one_core()
    meta = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, {pinned}",
                numpy=np.__version__, blas=blas_info(), peers=_peer_versions())
    results: dict[str, Any] = {}
    for key in args.only.split(","):
        key = key.strip()
        if key == "W7" and not args.memory_child:
            print("W7: peak memory, in a child process", flush=True)
            results[key] = memory_in_child(key, args.quick)
            continue
        print(f"{key}: setting up, checking every implementation against the floor",
              flush=True)
        wl = ALL[key]()
        problems = verify(wl)
        rounds = max(3, wl.rounds // 3) if args.quick else wl.rounds
        print(f"{wl.key}: {wl.title} ({len(wl.impls)} implementations, {rounds} rounds)",
              flush=True)
        if wl.memory:
            samples = memory_workload(wl, rounds)
        else:
            samples = time_workload(wl, rounds, target=0.05 if args.quick else 0.1)
        floor = statistics.median(samples["numpy floor"])
        entry = dict(title=wl.title, memory=wl.memory, problems=problems,
                     summary=summarize(samples, floor))
        if any(i.fresh for i in wl.impls.values()):
            entry["first_call"] = first_calls(wl, 1 if args.quick else 3)
        results[wl.key] = entry
        for name, s in entry["summary"].items():
            value = f"+{s['median']:.0f} MiB" if wl.memory else _fmt_time(s["median"])
            print(f"  {name:18s} {value:>12s}  {s['ratio']:.2f}x", flush=True)
        for name, xs in entry.get("first_call", {}).items():
            print(f"  {name:18s} first call {_fmt_time(statistics.median(xs))}", flush=True)
        for name, problem in problems.items():
            print(f"  {name:18s} NOT TIMED: {problem}", flush=True)
        del wl
    (out_dir / "results.json").write_text(json.dumps(dict(meta=meta, results=results),
                                                     indent=1, default=float))
    (out_dir / "results.md").write_text(markdown(results, meta))
    drawn = chart(results, out_dir / "results.png")
    print(f"wrote {out_dir / 'results.md'}, results.json" + (", results.png" if drawn else ""))


if __name__ == "__main__":
    main()
