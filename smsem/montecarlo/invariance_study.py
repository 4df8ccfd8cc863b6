"""Monte Carlo studies of measurement invariance: ``smsem power CONFIG`` with an ``invariance:`` key.

Power to detect a given non-invariance, and the false-alarm rate under full invariance, of
the invariance sequence (configural -> metric -> scalar -> strict, :func:`smsem.invariance.invariance`)
on generated two-department organizations (:class:`smsem.simulate.groups.Department`)::

    name: scalar non-invariance of one item
    model: integrative              # shipped name or a .lav file (its codebook's population values)
    # population: {loadings: ..., paths: ...}   # optional: as in the other study configurations
    invariance:
      groups: [sales, marketing]    # two departments, equal shares; the second one departs
      latent_means: {COM: 0.3}      # the second group's latent means (a true difference: not non-invariance)
      non_invariant:                # the second group's measurement departures (the studied effect)
        item_intercepts: {COM2: 0.3}    # SD units of the item's continuous response
        # loadings: {COM: [0.8, 0.5, 0.7]}
      steps: [metric, scalar, strict]   # steps reported (default: all three)
      n: [300, 600]                 # total respondents (half per department)
      estimator: ML                 # ML, MLM or MLR
    likert: 5                       # 0 keeps the continuous responses
    replications: 200
    seed: 20190102
    alpha: 0.05

Every ``n`` is run twice: ``invariant`` (the same organization without ``non_invariant``:
the false-alarm rate) and ``non-invariant`` (power). Per step: the likelihood-ratio
(scaled difference under MLM/MLR) test's rejection rate at ``alpha`` and the share of
replications failing Chen (2007)'s cut-offs, each with its 95% Clopper-Pearson band.
Replication ``r`` of cell ``c`` uses :func:`smsem.invariance.invariance_replication` with
the seed ``SeedSequence(seed, spawn_key=(c,))``'s first word and index ``r``: the two
conditions of one ``n`` share their random numbers (paired), and the results do not depend
on ``--jobs``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from ..exceptions import OptionError

__all__ = ["InvarianceStudyConfig", "invariance_config", "run_invariance_study", "render_invariance_study",
           "INVARIANCE_COLUMNS", "InvarianceStore", "INVARIANCE_STORE_NAME"]

#: The study's store in ``--out`` (one row per finished replication); resumable.
INVARIANCE_STORE_NAME = "invariance.sqlite"
_STORE_FORMAT = "1"

_TOP = ("name", "description", "model", "codebook", "population", "invariance", "likert", "replications", "seed",
        "alpha")
_INV = ("groups", "latent_means", "non_invariant", "steps", "n", "estimator")
_NONINV = ("item_intercepts", "loadings", "item_thresholds")
_STEPS = ("metric", "scalar", "strict")
INVARIANCE_COLUMNS = ["n", "condition", "step", "reps", "failed_fits", "lrt_reject_rate", "lrt_band_lower",
                      "lrt_band_upper", "chen_fail_rate", "chen_band_lower", "chen_band_upper"]


@dataclass(frozen=True)
class InvarianceStudyConfig:
    """A validated invariance study (see the module). ``population_values`` and the
    departures are JSON text (hashable, picklable)."""

    name: str
    model: str
    codebook: str | None
    population_values: str
    groups: tuple[str, str]
    latent_means: str
    non_invariant: str
    steps: tuple[str, ...]
    n: tuple[int, ...]
    estimator: str
    likert: int
    replications: int
    seed: int
    alpha: float
    source: str = ""

    @property
    def n_tasks(self) -> int:
        return 2 * len(self.n) * self.replications

    def to_mapping(self) -> dict:
        """Every field that decides a replication's result (``source``, where the file was
        read, left out): the store's fingerprint and record."""
        return {k: v for k, v in self.__dict__.items() if k != "source"}

    @property
    def fingerprint(self) -> str:
        import hashlib

        text = json.dumps({"format": _STORE_FORMAT, **self.to_mapping()}, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()

    def departments(self, condition: str) -> list[Any]:
        from ..simulate.groups import Department

        dep = json.loads(self.non_invariant) if condition == "non-invariant" else {}
        return [Department(self.groups[0], 0.5),
                Department(self.groups[1], 0.5, json.loads(self.latent_means), **dep)]


def _err(source: str, key: str, what: str) -> OptionError:
    return OptionError(f"{source}: {key}: {what}")


def invariance_config(data: Mapping[str, Any], source: str = "<config>", base: Path | None = None
                      ) -> InvarianceStudyConfig:
    """Validate a configuration mapping with an ``invariance:`` key (one-line errors naming the key)."""
    for k in data:
        if k not in _TOP:
            raise _err(source, str(k), f"unknown key in an invariance study (known: {', '.join(_TOP)})")
    inv = data.get("invariance")
    if not isinstance(inv, Mapping):
        raise _err(source, "invariance", "must be a mapping (groups, latent_means, non_invariant, steps, n, estimator)")
    for k in inv:
        if k not in _INV:
            raise _err(source, f"invariance.{k}", f"unknown key (known: {', '.join(_INV)})")
    groups = inv.get("groups", ["sales", "marketing"])
    if not (isinstance(groups, list) and len(groups) == 2 and len({str(g) for g in groups}) == 2):
        raise _err(source, "invariance.groups", "must list two different group names")
    means = inv.get("latent_means", {}) or {}
    if not isinstance(means, Mapping) or not all(isinstance(v, (int, float)) for v in means.values()):
        raise _err(source, "invariance.latent_means", "must map constructs to numbers")
    noninv = inv.get("non_invariant")
    if not isinstance(noninv, Mapping) or not noninv:
        raise _err(source, "invariance.non_invariant", "must give item_intercepts and/or loadings of the second group")
    for k in noninv:
        if k not in _NONINV:
            raise _err(source, f"invariance.non_invariant.{k}", f"unknown key (known: {', '.join(_NONINV)})")
    steps = inv.get("steps", list(_STEPS))
    if not isinstance(steps, list) or not steps or any(s not in _STEPS for s in steps):
        raise _err(source, "invariance.steps", f"must list steps among {', '.join(_STEPS)}")
    ns = inv.get("n")
    if not isinstance(ns, list) or not ns or any(not isinstance(v, int) or isinstance(v, bool) or v < 20 for v in ns):
        raise _err(source, "invariance.n", "must list total sample sizes (integers >= 20)")
    est = inv.get("estimator", "ML")
    if est not in ("ML", "MLM", "MLR"):
        raise _err(source, "invariance.estimator", f"must be ML, MLM or MLR, got {est!r}")
    reps = data.get("replications")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise _err(source, "replications", "must be a positive integer")
    likert = data.get("likert", 5)
    if not isinstance(likert, int) or isinstance(likert, bool) or not (likert == 0 or 2 <= likert <= 11):
        raise _err(source, "likert", "must be 0 (continuous) or 2..11")
    alpha = data.get("alpha", 0.05)
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise _err(source, "alpha", "must be in (0, 1)")
    seed = data.get("seed", 20190102)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise _err(source, "seed", "must be a non-negative integer")
    model = str(data.get("model", "integrative"))
    codebook = data.get("codebook")
    if base is not None:
        if model.endswith(".lav") and not Path(model).is_absolute():
            model = str((base / model).resolve())
        if codebook and not Path(str(codebook)).is_absolute():
            codebook = str((base / str(codebook)).resolve())
    pop = data.get("population") or {}
    if not isinstance(pop, Mapping):
        raise _err(source, "population", "must be a mapping of population values (loadings, paths, correlations)")
    cfg = InvarianceStudyConfig(
        str(data.get("name", Path(source).stem)), model, str(codebook) if codebook else None,
        json.dumps(dict(pop), sort_keys=True), (str(groups[0]), str(groups[1])), json.dumps(dict(means)),
        json.dumps({k: dict(v) for k, v in noninv.items()}), tuple(steps), tuple(ns), est, likert, reps, seed,
        float(alpha), source)
    try:  # the model, its population and the departures: fail now, not in a worker
        from ..simulate.responses import simulate

        m = _model(cfg)
        simulate(m, 40, seed=1, departments=cfg.departments("non-invariant"), likert=likert, **_pop(cfg))
    except OptionError:
        raise
    except Exception as exc:  # noqa: BLE001 - SpecError & co.: one line naming the file
        raise OptionError(f"{source}: {str(exc).splitlines()[0]}") from None
    return cfg


def _model(cfg: InvarianceStudyConfig):
    return _load(cfg.model, cfg.codebook)


@lru_cache(maxsize=4)
def _load(model: str, codebook: str | None):
    """The model, loaded once per process (26 ms each time otherwise)."""
    from ..model import load_model

    return load_model(model, codebook=codebook) if codebook else load_model(model)


def _pop(cfg: InvarianceStudyConfig) -> dict:
    values = json.loads(cfg.population_values)
    if not values:
        return {}
    from ..model.spec import PopulationSpec

    return {"population": PopulationSpec.from_mapping(values, "population")}


def _cells(cfg: InvarianceStudyConfig) -> list[tuple[int, int, str]]:
    """``(cell, n, condition)``; the seed stream is per ``n`` (shared by both conditions)."""
    return [(i, n, cond) for i, n in enumerate(cfg.n) for cond in ("invariant", "non-invariant")]


def _task(args: tuple) -> tuple[int, str, int, dict | None]:
    from ..invariance import invariance_replication

    cfg, i, n, cond, r = args
    seed = int(__import__("numpy").random.SeedSequence(cfg.seed, spawn_key=(i,)).generate_state(1)[0])
    out = invariance_replication(_model(cfg), cfg.departments(cond), n, seed, r, estimator=cfg.estimator,
                                 alpha=cfg.alpha, likert=cfg.likert, **_pop(cfg))
    return i, cond, r, out


class InvarianceStore:
    """The SQLite store of an invariance study (:data:`INVARIANCE_STORE_NAME` in ``--out``):
    one row per finished replication ``(cell, condition, rep)`` with its per-step result
    (JSON; NULL when the replication's fits failed), written as the ordinary studies'
    :class:`~smsem.montecarlo.store.Store` (WAL, ``synchronous=FULL``, one committed
    transaction per replication, the primary key against duplicates), so a run killed at
    any moment loses only the replications in flight. A store made by another
    configuration (its fingerprint) is refused in one line."""

    def __init__(self, path: str | Path, cfg: InvarianceStudyConfig):
        import sqlite3

        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS replications (cell INTEGER NOT NULL, condition TEXT NOT NULL, "
            "rep INTEGER NOT NULL, result TEXT, PRIMARY KEY (cell, condition, rep));")
        stored = self.conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if stored is None:
            self.conn.execute("BEGIN")
            self.conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (cfg.fingerprint,))
            self.conn.execute("INSERT INTO meta VALUES ('config', ?)",
                              (json.dumps(cfg.to_mapping(), sort_keys=True, default=list),))
            self.conn.execute("COMMIT")
        elif stored[0] != cfg.fingerprint:
            old = json.loads(self.conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
            new = json.loads(json.dumps(cfg.to_mapping(), default=list))
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)) or ["store format"]
            self.conn.close()
            raise OptionError(f"{self.path} holds a study made with a different configuration "
                              f"(differs in: {', '.join(diff)}); use another --out folder or --force")

    def __enter__(self) -> "InvarianceStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.conn.close()

    def results(self) -> dict[tuple[int, str, int], dict | None]:
        """Every stored replication's result (a step -> ``(LRT rejects, Chen fails)`` dict or None)."""
        out = {}
        for c, cond, r, res in self.conn.execute("SELECT cell, condition, rep, result FROM replications"):
            out[(int(c), str(cond), int(r))] = (None if res is None else
                                                {k: (bool(v[0]), bool(v[1])) for k, v in json.loads(res).items()})
        return out

    def add(self, cell: int, cond: str, rep: int, result: dict | None) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("INSERT OR IGNORE INTO replications VALUES (?, ?, ?, ?)",
                              (cell, cond, rep, None if result is None else
                               json.dumps({k: [bool(a), bool(b)] for k, (a, b) in result.items()})))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def _band(k: int, m: int) -> tuple[float, float]:
    if m == 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    ci = binomtest(k, m).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def run_invariance_study(cfg: InvarianceStudyConfig, *, jobs: int = 1, out: str | Path | None = None,
                         resume: bool = False, force: bool = False, on_row=None):
    """Run every replication (``jobs`` processes; results identical for any ``jobs``) and
    return the rates table (``INVARIANCE_COLUMNS``, one row per n, condition and step).

    With ``out`` (a folder), each finished replication is stored in
    ``out/invariance.sqlite`` (:class:`InvarianceStore`) under the folder's lock (one writer,
    as the ordinary studies): ``resume=True`` runs only the replications not stored yet
    (a replication's result depends on its seed only, so an interrupted study resumed gives
    the uninterrupted table), ``force=True`` deletes a stored study first; an existing
    store without either is refused. ``on_row(cell, condition, rep)`` is called after each
    replication is stored (tests use it to interrupt a run)."""
    if out is None:
        return _table(cfg, _run(cfg, _tasks(cfg, set()), jobs, None, on_row))
    from .runner import study_lock

    out = Path(out)
    with study_lock(out):
        path = out / INVARIANCE_STORE_NAME
        if path.exists() and force:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif path.exists() and not resume:
            raise OptionError(f"{path} already exists; use --resume to continue the study or --force to start again")
        with InvarianceStore(path, cfg) as store:
            done = store.results()
            done.update(_run(cfg, _tasks(cfg, set(done)), jobs, store, on_row))
            return _table(cfg, done)


def _tasks(cfg: InvarianceStudyConfig, done: set) -> list[tuple]:
    return [(cfg, i, n, cond, r) for i, n, cond in _cells(cfg) for r in range(cfg.replications)
            if (i, cond, r) not in done]


def _run(cfg, tasks: list, jobs: int, store: "InvarianceStore | None", on_row) -> dict:
    """Run ``tasks``; each result stored (when ``store``) as soon as it arrives."""
    results: dict[tuple[int, str, int], dict | None] = {}

    def keep(i, cond, r, res):
        if store is not None:
            store.add(i, cond, r, res)  # committed before it is counted
        results[(i, cond, r)] = res
        if on_row is not None:
            on_row(i, cond, r)

    if jobs > 1 and len(tasks) > 1:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        pool = ProcessPoolExecutor(max_workers=jobs)
        try:
            pending = {pool.submit(_task, t) for t in tasks}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    keep(*fut.result())
        finally:  # stop the workers now, also when interrupted
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for t in tasks:
            keep(*_task(t))
    return results


def _table(cfg: InvarianceStudyConfig, results: dict):
    import pandas as pd

    by: dict[tuple[int, str], list] = {}
    for (i, cond, r), out in sorted(results.items()):
        by.setdefault((i, cond), []).append(out)
    rows = []
    for i, n, cond in _cells(cfg):
        outs = by.get((i, cond), [])
        ok = [o for o in outs if o is not None]
        for st in cfg.steps:
            k_lrt = sum(o[st][0] for o in ok)
            k_chen = sum(o[st][1] for o in ok)
            m = len(ok)
            rows.append([n, cond, st, m, len(outs) - m, k_lrt / m if m else math.nan, *_band(k_lrt, m),
                         k_chen / m if m else math.nan, *_band(k_chen, m)])
    return pd.DataFrame(rows, columns=INVARIANCE_COLUMNS)


def render_invariance_study(cfg: InvarianceStudyConfig, table, fmt: str = "text") -> str:
    """The rates table as text, Markdown, CSV or JSON."""
    import io

    if fmt == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
        return buf.getvalue()
    if fmt == "json":
        doc = {"name": cfg.name, "model": cfg.model, "groups": list(cfg.groups),
               "latent_means": json.loads(cfg.latent_means), "non_invariant": json.loads(cfg.non_invariant),
               "estimator": cfg.estimator, "likert": cfg.likert, "replications": cfg.replications, "seed": cfg.seed,
               "alpha": cfg.alpha,
               "rates": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                         for r in table.to_dict(orient="records")]}
        return json.dumps(doc, indent=2) + "\n"

    def f(v: float) -> str:
        return "" if v != v else f"{v:.3f}"

    noninv = "; ".join(f"{k} {v}" for k, v in json.loads(cfg.non_invariant).items())
    head = [f"Invariance study: {cfg.name}",
            f"{cfg.groups[1]} departs from {cfg.groups[0]} by {noninv} (non-invariant condition); latent means of "
            f"{cfg.groups[1]} {json.loads(cfg.latent_means) or 'none'} in both conditions",
            f"{cfg.estimator}, likert {cfg.likert}, {cfg.replications} replications per cell, seed {cfg.seed}; "
            f"LRT at alpha = {cfg.alpha:g} (invariant: false-alarm rate, should lie near alpha; non-invariant: "
            f"power); Chen (2007) cut-offs; [95% Clopper-Pearson band]"]
    header = ["n", "condition", "step", "reps", "failed", "LRT rejects", "band", "Chen fails", "band"]
    rows = [[str(r.n), r.condition, r.step, str(r.reps), str(r.failed_fits), f(r.lrt_reject_rate),
             f"[{f(r.lrt_band_lower)}, {f(r.lrt_band_upper)}]", f(r.chen_fail_rate),
             f"[{f(r.chen_band_lower)}, {f(r.chen_band_upper)}]"] for r in table.itertuples()]
    if fmt == "markdown":
        out = [f"**{head[0]}**", ""] + [h + "  " for h in head[1:]] + ["", "| " + " | ".join(header) + " |",
                                                                       "|" + "---|" * len(header)]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join(head + ["", line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]) + "\n"
