"""The path diagram drawn with matplotlib: no system program needed.

Layout: the structural model in columns by causal depth (exogenous constructs left, the
final outcome right), constructs as ellipses with their R² inside, a structural path as a
solid arrow labelled ``P1: -0.28***`` (proposition id, std.all coefficient, stars; grey
when p >= .05), a covariance as a dashed two-headed arc with its correlation. A path that
skips a column is drawn as an arc so it does not run through the constructs between.
A legend explains the stars, colours and R². Formats only: the numbers come from
``res.params``, ``res.standardized`` and :func:`smsem.estimate.diagnostics.r2`.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from .formats import stars

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.results import FitResults

__all__ = ["draw_diagram", "diagram_layout"]

_X_STEP, _Y_STEP = 2.6, 2.0
_W, _H = 1.25, 0.62


def diagram_layout(res: "FitResults") -> dict[str, tuple[float, float]]:
    """``variable -> (x, y)``: columns by the longest chain of paths leading to it."""
    parsed = res.model.parsed
    regs = parsed.regressions
    nodes = list(dict.fromkeys([v for r in regs for v in (r.rhs, r.lhs)]))
    if not nodes:  # a measurement model: its constructs in one column
        nodes = list(parsed.latents)
    preds: dict[str, list[str]] = {v: [] for v in nodes}
    for r in regs:
        preds[r.lhs].append(r.rhs)
    depth: dict[str, int] = {}

    def d(v: str, seen: tuple[str, ...] = ()) -> int:
        if v not in depth:
            ps = [p for p in preds[v] if p not in seen]
            depth[v] = 1 + max((d(p, seen + (v,)) for p in ps), default=-1)
        return depth[v]

    for v in nodes:
        d(v)
    cols: dict[int, list[str]] = {}
    order = {v: i for i, v in enumerate(parsed.latents + parsed.observed)}
    for v in sorted(nodes, key=lambda v: order.get(v, 0)):
        cols.setdefault(depth[v], []).append(v)
    pos = {}
    for k, vs in cols.items():
        for i, v in enumerate(vs):
            pos[v] = (k * _X_STEP, ((len(vs) - 1) / 2 - i) * _Y_STEP)
    return pos


def draw_diagram(res: "FitResults", fmt: str = "png", *, dpi: int = 300, title: str | None = None) -> bytes:
    """The path diagram as PNG (``dpi``, default 300) or SVG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse, FancyArrowPatch, Rectangle

    from ..estimate.diagnostics import r2

    pos = diagram_layout(res)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(xs) - min(xs) + 2.2
    height = max(ys) - min(ys) + 2.8
    fig = Figure(figsize=(max(6.0, width * 1.25), max(4.0, height * 1.25)))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    ax.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    ax.set_ylim(min(ys) - 1.9, max(ys) + 0.9)
    ax.set_aspect("equal")
    ax.axis("off")

    latents = set(res.model.parsed.latents)
    try:
        rsq = dict(zip(r2(res)["name"], r2(res)["r2"]))
    except Exception:  # noqa: BLE001 - R² is decoration here; a model without it still draws
        rsq = {}
    patches = {}
    for v, (x, y) in pos.items():
        if v in latents:
            patch = Ellipse((x, y), _W, _H, facecolor="#eef3fb", edgecolor="#1f3b63", lw=1.3, zorder=3)
        else:
            patch = Rectangle((x - _W / 2, y - _H / 2), _W, _H, facecolor="#f6f6f6", edgecolor="#333333",
                              lw=1.3, zorder=3)
        ax.add_patch(patch)
        patches[v] = patch
        if v in rsq:
            ax.text(x, y + 0.09, v, ha="center", va="center", fontsize=11, fontweight="bold", zorder=4)
            ax.text(x, y - 0.15, f"R² = {rsq[v]:.2f}", ha="center", va="center", fontsize=8, color="#333333",
                    zorder=4)
        else:
            ax.text(x, y, v, ha="center", va="center", fontsize=11, fontweight="bold", zorder=4)

    ids = {(p.source, p.target): p.id for p in res.model.propositions if p.kind == "path"}
    p = res.params
    edges = [(str(r.rhs), str(r.lhs)) for r in p[p.op == "~"].itertuples(index=False)
             if str(r.rhs) in pos and str(r.lhs) in pos]

    def crosses(a: str, b: str) -> bool:
        """Another path between the same two columns crosses this one."""
        return any(pos[c][0] == pos[a][0] and pos[d][0] == pos[b][0]
                   and (pos[a][1] - pos[c][1]) * (pos[b][1] - pos[d][1]) < 0 for c, d in edges)

    for r in p[p.op == "~"].itertuples(index=False):
        a, b = str(r.rhs), str(r.lhs)
        if a not in pos or b not in pos:
            continue
        sig = not math.isnan(r.pvalue) and r.pvalue < 0.05
        color = "#111111" if sig else "#9a9a9a"
        span = abs(pos[b][0] - pos[a][0]) / _X_STEP
        same_col_blocked = span == 0 or (span > 1 and abs(pos[b][1] - pos[a][1]) < 0.5 * _Y_STEP)
        rad = 0.0 if span <= 1 and not same_col_blocked else (0.28 if pos[b][1] <= pos[a][1] else -0.28)
        if span > 1 and rad == 0.0:
            rad = 0.22
        arrow = FancyArrowPatch(posA=pos[a], posB=pos[b], patchA=patches[a], patchB=patches[b],
                                arrowstyle="-|>", mutation_scale=14, color=color, lw=1.4 if sig else 1.0,
                                connectionstyle=f"arc3,rad={rad}", zorder=2)
        ax.add_patch(arrow)
        label = f"{r.std_all:.2f}{stars(r.pvalue)}"
        if (a, b) in ids:
            label = f"{ids[(a, b)]}: {label}"
        # Labels of crossing diagonals sit nearer their source, so they do not overlap.
        t = 0.3 if crosses(a, b) else 0.62 if span > 2 else 0.5
        lx, ly = _label_point(pos[a], pos[b], rad, t)
        ax.text(lx, ly, label, ha="center", va="center", fontsize=8, color="black" if sig else "#777777",
                zorder=5, bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9))
    for r in p[(p.op == "~~") & (p.lhs != p.rhs)].itertuples(index=False):
        a, b = str(r.lhs), str(r.rhs)
        if a not in pos or b not in pos:
            continue
        arrow = FancyArrowPatch(posA=pos[a], posB=pos[b], patchA=patches[a], patchB=patches[b],
                                arrowstyle="<|-|>", mutation_scale=11, color="#555555", lw=1.0, ls="--",
                                connectionstyle="arc3,rad=0.45", zorder=2)
        ax.add_patch(arrow)
        lx, ly = _label_point(pos[a], pos[b], 0.45)
        ax.text(lx, ly, f"r = {r.std_all:.2f}{stars(r.pvalue)}", ha="center", va="center", fontsize=8,
                zorder=5, bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9))

    handles = [Line2D([], [], color="#111111", lw=1.4, label="path, p < .05"),
               Line2D([], [], color="#9a9a9a", lw=1.0, label="path, p ≥ .05"),
               Line2D([], [], color="#555555", lw=1.0, ls="--", label="covariance (correlation)")]
    ax.legend(handles=handles, loc="lower left", fontsize=7.5, frameon=False,
              title="*** p < .001   ** p < .01   * p < .05\nlabels: proposition: std.all; R² in nodes",
              title_fontsize=7.5, alignment="left")
    ax.text(max(xs) + 1.05, min(ys) - 1.75,
            title if title is not None else f"{res.model.name}: standardized estimates (std.all), n = {res.n}",
            ha="right", va="bottom", fontsize=8, color="#333333")
    buf = io.BytesIO()
    if fmt == "svg":
        import matplotlib

        # reproducible bytes: no date, and clip-path/element ids from a fixed salt (random otherwise)
        with matplotlib.rc_context({"svg.hashsalt": "smsem"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _label_point(a: tuple[float, float], b: tuple[float, float], rad: float, t: float = 0.5
                 ) -> tuple[float, float]:
    """The point at ``t`` of matplotlib's ``arc3`` curve from ``a`` to ``b`` (a quadratic
    Bézier whose control point is the chord's midpoint moved by ``rad * (dy, -dx)``)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    cx, cy = (a[0] + b[0]) / 2 + rad * dy, (a[1] + b[1]) / 2 - rad * dx
    u = 1.0 - t
    return u * u * a[0] + 2 * u * t * cx + t * t * b[0], u * u * a[1] + 2 * u * t * cy + t * t * b[1]
