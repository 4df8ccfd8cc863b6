"""Path diagram of a fitted model: standardized estimates with significance stars.

:func:`render_diagram` draws PNG (300 dpi) and SVG with matplotlib
(:mod:`smsem.report.diagram_mpl`), so ``pip install smsem`` alone gives the diagram.
Graphviz is an optional renderer: ``engine="graphviz"`` needs the ``graphviz`` Python
package (``pip install smsem[graphviz]``) and Graphviz's ``dot`` program; without them it
warns in one line and falls back to matplotlib. :func:`diagram_source` (DOT text) needs the
Python package only.

Conventions: constructs are ellipses, items (with ``measurement=True``) boxes; a
structural path is a solid arrow labelled with its std.all coefficient and stars
(``***`` p < .001, ``**`` p < .01, ``*`` p < .05), grey when p >= .05; a covariance between
constructs is a dashed two-headed arrow labelled with its correlation.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

from ..exceptions import SmsemWarning
from .formats import stars

if TYPE_CHECKING:  # pragma: no cover
    import graphviz

    from ..estimate.results import FitResults

__all__ = ["DIAGRAM_FORMATS", "DIAGRAM_ENGINES", "path_diagram", "diagram_source", "render_diagram",
           "has_graphviz_package"]

DIAGRAM_FORMATS = ("svg", "png")
DIAGRAM_ENGINES = ("matplotlib", "graphviz")


def has_graphviz_package() -> bool:
    """Whether the optional ``graphviz`` Python package is installed."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


def _label(std: float, p: float) -> str:
    return "" if math.isnan(std) else f"{std:.2f}{stars(p)}"


def path_diagram(res: "FitResults", *, measurement: bool = False, title: str | None = None) -> "graphviz.Digraph":
    """A :class:`graphviz.Digraph` of the fitted model.

    Parameters
    ----------
    res : FitResults
    measurement : bool, default=False
        Also draw the items and their standardized loadings.
    title : str, optional
        A caption under the diagram (default: model name and n).
    """
    import graphviz

    parsed = res.model.parsed
    latents = parsed.latents
    p = res.params
    g = graphviz.Digraph(name=res.model.name or "model", graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "labelloc": "b", "nodesep": "0.35", "ranksep": "0.9",
        "label": title if title is not None else f"{res.model.name}: standardized estimates (std.all), n = {res.n}",
    }, node_attr={"fontname": "Helvetica"}, edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    structural = {r.lhs for r in parsed.regressions} | {r.rhs for r in parsed.regressions}
    nodes = [v for v in latents if v in structural or not measurement] + [v for v in parsed.observed if v in structural]
    if measurement:
        nodes = list(dict.fromkeys(latents + nodes))
    for v in nodes:
        g.node(v, v, shape="ellipse" if v in latents else "box")
    for _, r in p[p.op == "~"].iterrows():
        sig = not math.isnan(r["pvalue"]) and r["pvalue"] < 0.05
        g.edge(str(r["rhs"]), str(r["lhs"]), label=_label(r["std_all"], r["pvalue"]),
               color="black" if sig else "grey55", fontcolor="black" if sig else "grey40")
    for _, r in p[(p.op == "~~") & (p.lhs != p.rhs)].iterrows():
        if r["lhs"] in nodes and r["rhs"] in nodes:
            g.edge(str(r["lhs"]), str(r["rhs"]), label=_label(r["std_all"], r["pvalue"]), dir="both",
                   style="dashed", constraint="false")
    if measurement:
        for _, r in p[p.op == "=~"].iterrows():
            g.node(str(r["rhs"]), str(r["rhs"]), shape="box", fontsize="10")
            g.edge(str(r["lhs"]), str(r["rhs"]), label=_label(r["std_all"], r["pvalue"]), arrowsize="0.6")
    return g


def diagram_source(res: "FitResults", *, measurement: bool = False) -> str:
    """The DOT source of :func:`path_diagram` (needs no ``dot`` program)."""
    return path_diagram(res, measurement=measurement).source


def render_diagram(res: "FitResults", fmt: str = "svg", *, measurement: bool = False,
                   engine: str = "matplotlib", dpi: int = 300) -> bytes:
    """The diagram as SVG or PNG bytes (PNG at ``dpi``).

    ``engine="matplotlib"`` (default) needs no system program; ``"graphviz"`` uses
    Graphviz's ``dot`` (and draws the items with ``measurement=True``), falling back to
    matplotlib with a one-line warning when the package or the program is missing.
    """
    from .._validation import check_option
    from .diagram_mpl import draw_diagram

    check_option("diagram format", fmt, DIAGRAM_FORMATS)
    check_option("engine", engine, DIAGRAM_ENGINES)
    if engine == "graphviz":
        try:
            import graphviz
        except ImportError:
            warnings.warn("the graphviz Python package is not installed (pip install smsem[graphviz]); "
                          "the path diagram is drawn with matplotlib", SmsemWarning, stacklevel=2)
        else:
            try:
                return path_diagram(res, measurement=measurement).pipe(format=fmt)
            except graphviz.ExecutableNotFound:
                warnings.warn("Graphviz's 'dot' program was not found; the path diagram is drawn with "
                              "matplotlib (install Graphviz for its layout, e.g. apt-get install graphviz)",
                              SmsemWarning, stacklevel=2)
    return draw_diagram(res, fmt, dpi=dpi)
