"""Command line: parses arguments and calls the public API; computes nothing itself.

Input errors end with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Sequence

from . import __version__
from ._defaults import CI_METHODS, DEFAULT_BOOT_SEED, DEFAULT_DIAG_SEED, DEFAULT_SEED
from .exceptions import SmsemError, SmsemWarning

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block) with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _float_list(text: str) -> list[float]:
    return [_float(t) for t in text.split(",")]


def _likert(text: str) -> int:
    value = _nonneg_int(text)
    if value == 1 or value > 11:
        raise argparse.ArgumentTypeError(f"expected 0 (continuous) or 2..11 scale points, got {value}")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a level strictly between 0 and 1 (e.g. 0.95), got {text}")
    return value


#: Examples shown at the end of each ``--help`` (None: the top-level help).
_EXAMPLES: dict[str | None, str] = {
    None: """examples:
  smsem reproduce                                  simulate, fit, bootstrap; write ./smsem-output/
  smsem fit survey.csv --boot 0                    fit your survey (Wald tests, no bootstrap)
  smsem power sample_size --jobs 2                 shipped power study (see models/montecarlo/)

Run 'smsem COMMAND --help' for each command's options and examples.""",
    "reproduce": """examples:
  smsem reproduce                                  n = 300, 1000 bootstrap draws, ./smsem-output/
  smsem reproduce --n 500 --seed 7 --out run7      another sample
  smsem reproduce --boot 0 --force                 no bootstrap, overwrite earlier outputs""",
    "generate": """examples:
  smsem generate --out survey.csv                  300 respondents, 5-point items
  smsem generate --out null.csv --scenario null --n 200 --seed 3
  smsem generate --out messy.csv --likert 7 --missing-rate 0.1 --skewness 1 --kurtosis 2""",
    "fit": """examples:
  smsem fit survey.csv --boot 0                    estimates, fit, propositions (Wald tests)
  smsem fit survey.csv --boot 1000 --jobs 2 --out results
                                                   bootstrap verdicts; write tables and report
  smsem fit export.csv --columns map.yaml --model my_model.lav --estimator MLR --missing fiml --boot 0
  smsem fit hs.csv --model cfa.lav --likert 0 --std-lv --hypotheses h.yaml --modindices 10""",
    "compare": """examples:
  smsem compare survey.csv integrative integrative_no_direct
                                                   nested LRT, AIC/BIC, Vuong tests, verdict
  smsem compare survey.csv a.lav b.lav --estimator MLM
                                                   Satorra-Bentler scaled difference test""",
    "invariance": """examples:
  smsem invariance survey.csv --group department   configural -> strict for the integrative model
  smsem invariance hs.csv --group school --model hs3.lav
  smsem invariance hs.csv --group school --model hs3.lav --group-partial "x3~1,x7~1"
                                                   partial invariance (lavaan's group.partial)
  smsem invariance bfi.csv --group gender --model bfi5.lav --ordered all
                                                   ordinal items: Wu & Estabrook's thresholds-first sequence""",
    "generate-diagnostic": """examples:
  smsem generate-diagnostic --out answers.csv      one aligned organization, 50 per department
  smsem generate-diagnostic --level defined,integrated --n 40 --gap 8 --out two_orgs.csv""",
    "diagnose": """examples:
  smsem diagnose answers.csv                       totals and levels of every respondent
  smsem diagnose answers.csv --group department --org org --out diag
                                                   sales vs marketing gap, tests, figure""",
    "power": """examples:
  smsem power sample_size                          shipped configuration (models/montecarlo/)
  smsem power study.yaml --out study --jobs 2      your own design, two local processes
  smsem power study.yaml --out study --resume      continue an interrupted study
  smsem power invariance_intercepts --jobs 2       invariance study: scalar power, false alarms""",
}


def _sub_help(name: str, text: str) -> dict:
    """Keyword arguments of a subcommand: its one-line help, description and examples."""
    return {"help": text, "description": text[0].upper() + text[1:] + ".", "epilog": _EXAMPLES[name],
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smsem", formatter_class=argparse.RawDescriptionHelpFormatter, description=(
        "Structural equation modeling of sales-marketing collaboration: simulate surveys,\n"
        "fit SEM models written in lavaan syntax (the essay's integrative model by default),\n"
        "test their propositions with bootstrap CIs and plan sample sizes by Monte Carlo."),
        epilog=_EXAMPLES[None])
    parser.add_argument("--version", action="version", version=f"smsem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    rep = sub.add_parser("reproduce", **_sub_help("reproduce", "simulate, fit and bootstrap the integrative model; write a report"))
    rep.add_argument("--n", type=_pos_int, default=300, help="respondents (default 300)")
    rep.add_argument("--seed", type=_nonneg_int, default=DEFAULT_SEED, help=f"data seed (default {DEFAULT_SEED})")
    rep.add_argument("--boot", type=_nonneg_int, default=1000, help="bootstrap draws (default 1000; 0 skips)")
    rep.add_argument("--out", default="smsem-output", help="output folder (default ./smsem-output)")
    rep.add_argument("--force", action="store_true", help="overwrite existing output files")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")

    gen = sub.add_parser("generate", **_sub_help("generate", "write a synthetic survey CSV and its JSON sidecar"))
    gen.add_argument("--n", type=_pos_int, default=300, help="respondents (default 300)")
    gen.add_argument("--seed", type=_nonneg_int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    gen.add_argument("--scenario", default=None, metavar="NAME",
                     help="named scenario (thesis, null, undefined, defined, aligned, integrated) or a .yaml "
                          "file (default: the codebook's population)")
    gen.add_argument("--likert", type=_nonneg_int, default=5, metavar="K",
                     help="scale points 2..11, 0 = continuous responses (default 5)")
    gen.add_argument("--thresholds", choices=["symmetric", "skewed", "wide"], default=None,
                     help="Likert cut points: symmetric (default), skewed (agreement-heavy) or wide "
                          "(the former default: +-1.8 for every K)")
    gen.add_argument("--proportions", type=_float_list, default=None, metavar="P1,P2,...",
                     help="target category proportions (K values summing to 1) instead of --thresholds")
    gen.add_argument("--skewness", type=_float, default=None, metavar="S",
                     help="target skewness of every item (Vale-Maurelli non-normal responses)")
    gen.add_argument("--kurtosis", type=_float, default=None, metavar="K",
                     help="target excess kurtosis of every item (Vale-Maurelli non-normal responses)")
    gen.add_argument("--missing-rate", type=_float, default=0.0, metavar="R",
                     help="share of missing item cells, 0 <= R < 1 (default 0); missing cells are empty")
    gen.add_argument("--missing-mechanism", choices=["mcar", "mar"], default="mcar",
                     help="mcar (default) or mar (missingness driven by the first item, which is always answered)")
    gen.add_argument("--out", required=True, help="CSV file to write (the sidecar is FILE.json)")
    gen.add_argument("--force", action="store_true", help="overwrite existing files")

    fit = sub.add_parser("fit", **_sub_help("fit", "fit a model (default: the integrative model; --model NAME or FILE.lav) "
                                             "to a survey file and test its propositions"))
    fit.add_argument("file", help="survey file (CSV/TSV, any common separator and encoding, or Parquet) "
                                  "with the model's observed variables as columns (matched ignoring case)")
    fit.add_argument("--columns", metavar="MAP.yaml",
                     help="YAML file mapping your column names to item ids ('your column: item id')")
    fit.add_argument("--model", default="integrative", help="shipped model name or .lav file")
    fit.add_argument("--likert", type=_likert, default=None, metavar="K",
                     help="declare the indicators K-point items (2..11) and check their codes 1..K; 0 = "
                          "continuous data (no code check); default: the codebook's scale for its items "
                          "(the essay's: 5 points), any finite number for other variables")
    fit.add_argument("--hypotheses", metavar="H.yaml", default=None,
                     help="your own hypotheses (id, path or indirect chain, sign) tested with bootstrap CIs "
                          "instead of the codebook's propositions (format: docs/models.md)")
    fit.add_argument("--std-lv", action="store_true", default=False,
                     help="lavaan's std.lv = TRUE: latent variances fixed to 1, every loading free")
    fit.add_argument("--meanstructure", action="store_const", const=True, default=None,
                     help="lavaan's meanstructure = TRUE: intercepts and means (default: with --missing fiml)")
    fit.add_argument("--fixed-x", action=argparse.BooleanOptionalAction, default=None,
                     help="lavaan's fixed.x: observed exogenous covariates fixed at their sample moments "
                          "(default --fixed-x)")
    fit.add_argument("--model-type", choices=["sem", "cfa", "growth"], default="sem",
                     help="the defaults of lavaan's sem() (default), cfa() or growth()")
    fit.add_argument("--modindices", type=_float, nargs="?", const=3.84, default=None, metavar="MIN",
                     help="print lavaan's modification indices of at least MIN (default 3.84, the 5%% "
                          "chi-square(1) critical value; 0 lists all), largest first")
    fit.add_argument("--group", default=None, metavar="COLUMN",
                     help="multiple-group fit by this column (lavaan's group=; ML, MLM, MLR, FIML): the fit, then "
                          "the proposition table per group with the group-difference block; with --out DIR: "
                          "fit.txt, parameters.csv, propositions.* and group_differences.* (txt, md, tex, csv, json)")
    fit.add_argument("--group-equal", default=None, metavar="LIST",
                     help="lavaan's group.equal, comma-separated: loadings,intercepts,residuals,means,"
                          "lv.variances,lv.covariances,regressions,residual.covariances")
    fit.add_argument("--group-partial", default=None, metavar="LIST",
                     help='lavaan\'s group.partial, comma-separated, e.g. "visual =~ x3,x1 ~ 1"')
    fit.add_argument("--boot", type=_nonneg_int, default=None,
                     help="bootstrap draws (default 1000; 0 skips; with --group default 0: draws resampled "
                          "within groups, complete-data ML; with --ordered default 0: percentile CIs)")
    fit.add_argument("--seed", type=_nonneg_int, default=DEFAULT_BOOT_SEED,
                     help=f"bootstrap seed (default {DEFAULT_BOOT_SEED})")
    fit.add_argument("--format", choices=["text", "markdown", "json", "csv", "latex"], default="text")
    fit.add_argument("--estimator", choices=["ML", "MLM", "MLR", "WLSMV", "ULSMV", "DWLS", "ULS", "WLS"],
                     default=None,
                     help="ML (default, lavaan's sem()), MLM (robust SEs, Satorra-Bentler scaled chi2; "
                          "complete data) or MLR (Huber-White SEs, Yuan-Bentler scaled chi2; also with "
                          "--missing fiml); with --ordered: WLSMV (default), ULSMV, DWLS, ULS, WLS")
    fit.add_argument("--ordered", metavar="all|ITEM,ITEM", default=None,
                     help="ordinal items (polychoric correlations, lavaan's ordered =): 'all' or a comma list; "
                          "the others are continuous (delta only); selects --estimator WLSMV")
    fit.add_argument("--parameterization", choices=["delta", "theta"], default="delta",
                     help="with --ordered: lavaan's parameterization, delta (default) or theta")
    fit.add_argument("--missing", choices=["listwise", "fiml", "pairwise"], default="listwise",
                     help="listwise deletion (default) or full-information ML (lavaan missing = \"ml\"; "
                          "needs --boot 0)")
    fit.add_argument("--out", metavar="DIR", default=None,
                     help="also write every table (fit, parameters, standardized, r2, effects, modindices, "
                          "residuals, quality, propositions, bootstrap; txt, md, tex, csv, json), summary.txt/html, "
                          "report.md and the path diagram (svg, png) into DIR")
    fit.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    fit.add_argument("--ci", choices=list(CI_METHODS), default="percentile",
                     help="bootstrap CI method behind the verdicts (default percentile; bc = lavaan's "
                          "bca.simple; bca needs at least n successful draws)")
    fit.add_argument("--level", type=_level, default=0.95,
                     help="level of every CI (Wald, standardized, bootstrap), e.g. 0.90 (default 0.95)")
    fit.add_argument("--exclude-inadmissible", action="store_true",
                     help="leave bootstrap draws with a negative variance or a non-positive-definite matrix "
                          "out of the CIs (default: kept, as lavaan does; always counted)")
    fit.add_argument("--jobs", type=_pos_int, default=1,
                     help="worker processes for the bootstrap (default 1; results do not depend on it)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.add_argument("--interaction-method", choices=["lms", "qml", "dmc", "rca"], default=None,
                     help="estimator of latent interactions a:b (default: see docs/moderation.md)")
    fit.add_argument("--match", action="store_true",
                     help="dmc/rca: matched product indicators (i-th item with i-th) instead of all pairs")
    fit.add_argument("--chain", default=None, metavar="A,B,C", action="append",
                     help="moderation: a mediation chain for conditional indirect effects (e.g. IS,IC,EA,OP); "
                          "repeat for several")
    fit.add_argument("--verbose", action="store_true",
                     help="also report how the survey file was read (its detected encoding)")

    gd = sub.add_parser("generate-diagnostic", **_sub_help("generate-diagnostic", "write synthetic answers to the integration "
                                                                           "diagnostic (CSV)"))
    gd.add_argument("--level", default="aligned",
                    help="level of each organization, comma-separated (undefined, defined, aligned, integrated)")
    gd.add_argument("--n", type=_pos_int, default=50, help="respondents per department and organization (default 50)")
    gd.add_argument("--gap", type=float, default=0.0,
                    help="expected total of marketing minus sales, in points (default 0)")
    gd.add_argument("--missing", type=float, default=0.0, help="probability that an answer is left empty")
    gd.add_argument("--seed", type=_nonneg_int, default=DEFAULT_DIAG_SEED, help=f"seed (default {DEFAULT_DIAG_SEED})")
    gd.add_argument("--out", required=True, help="CSV file to write (the sidecar is FILE.json)")
    gd.add_argument("--force", action="store_true", help="overwrite existing files")

    dia = sub.add_parser("diagnose", **_sub_help("diagnose", "score the sales-marketing integration diagnostic (essay Annexe 1)"))
    dia.add_argument("file", help="CSV with columns KRK1..KRK20 (codes 1..5, empty = unanswered)")
    dia.add_argument("--group", default=None, help="column with each respondent's department (e.g. department)")
    dia.add_argument("--org", default=None, help="column with each respondent's organization")
    dia.add_argument("--compare", default=None, metavar="A,B",
                     help="the two groups to compare, gap = B - A (default: sales,marketing)")
    dia.add_argument("--format", choices=["text", "markdown", "json", "csv"], default="text",
                     help="printed output (csv: one row per respondent)")
    dia.add_argument("--out", default=None, metavar="DIR",
                     help="also write tables (CSV), diagnostic.json, report.md and the PNG figure here")
    dia.add_argument("--force", action="store_true", help="overwrite existing output files")

    pw = sub.add_parser("power", **_sub_help("power", "Monte Carlo study: power, bias and coverage per proposition "
                                                   "(from a YAML config)"))
    pw.add_argument("config", help="study configuration YAML (see models/montecarlo/; with an invariance: key, "
                                   "power and false alarms of the invariance sequence, e.g. invariance_intercepts)")
    pw.add_argument("--out", default=None, help="output folder (default ./smsem-power-CONFIGNAME)")
    pw.add_argument("--jobs", type=_pos_int, default=1, help="local worker processes (default 1)")
    pw.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run on a dask.distributed scheduler, e.g. tcp://HOST:8786")
    pw.add_argument("--resume", action="store_true", help="continue the study stored in --out")
    pw.add_argument("--force", action="store_true", help="discard a study stored in --out and start again")
    pw.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true",
                    help="no progress bar (default: shown on a terminal)")

    inv = sub.add_parser("invariance", **_sub_help("invariance", "measurement invariance across groups: configural, "
                                                   "metric, scalar, strict (ML, MLM, MLR; complete data; WLSMV with --ordered)"))
    inv.add_argument("file", help="survey file with the model's item columns and the group column")
    inv.add_argument("--group", required=True, metavar="COLUMN", help="the group column (e.g. department)")
    inv.add_argument("--model", default="integrative", help="shipped model name or .lav file")
    inv.add_argument("--columns", metavar="MAP.yaml", help="YAML file mapping your column names to item ids")
    inv.add_argument("--group-partial", default=None, metavar="LIST",
                     help='lavaan\'s group.partial at every step, comma-separated, e.g. "x3~1,x7~1"')
    inv.add_argument("--std-lv", action="store_true", default=False,
                     help="identify factors by unit variances (lavaan's std.lv = TRUE)")
    inv.add_argument("--estimator", choices=["ML", "MLM", "MLR", "WLSMV"], default="ML",
                     help="ML (default; likelihood-ratio tests) or MLM/MLR (robust fits, Satorra-Bentler scaled "
                          "differences, Chen's cut-offs on the robust CFI and RMSEA); WLSMV with --ordered")
    inv.add_argument("--ordered", metavar="all|ITEM,ITEM", default=None,
                     help="ordinal items (every item of the model): Wu & Estabrook's (2016) sequence configural -> "
                          "thresholds -> metric -> scalar by WLSMV, lavTestLRT's scaled-shifted differences")
    inv.add_argument("--parameterization", choices=["delta", "theta"], default="delta",
                     help="with --ordered: delta (default) or theta (adds the strict step: residual variances equal)")
    inv.add_argument("--method", choices=["default", "satorra.bentler.2001", "satorra.bentler.2010"],
                     default="default", help="scaled difference under MLM/MLR (default: satorra.bentler.2001, "
                                             "lavaan's; satorra.bentler.2010 is strictly positive)")

    cmp_ = sub.add_parser("compare", **_sub_help("compare", "compare models fitted to one survey: nested LRT, "
                                                            "AIC/BIC, Vuong tests"))
    cmp_.add_argument("file", help="survey file with the models' item columns")
    cmp_.add_argument("models", nargs="+", metavar="MODEL", help="two or more shipped model names or .lav files")
    cmp_.add_argument("--estimator", choices=["ML", "MLM", "MLR"], default="ML",
                      help="ML (default; chi-square difference), MLM or MLR (Satorra-Bentler scaled difference)")
    cmp_.add_argument("--method", choices=["default", "satorra.bentler.2001", "satorra.bentler.2010"],
                      default="default", help="scaled difference test for MLM/MLR (default: Satorra-Bentler 2001; "
                                              "satorra.bentler.2010, MLM only, is strictly positive)")
    cmp_.add_argument("--columns", metavar="MAP.yaml", help="YAML file mapping your column names to item ids")
    return parser


def _cmd_generate(args: argparse.Namespace) -> int:
    from . import load_model, simulate, write_survey

    model = load_model("integrative")
    df = simulate(model, n=args.n, seed=args.seed, scenario=args.scenario, likert=args.likert,
                  thresholds=args.thresholds, proportions=args.proportions, skewness=args.skewness,
                  kurtosis=args.kurtosis, missing_rate=args.missing_rate,
                  missing_mechanism=args.missing_mechanism)
    csv, meta = write_survey(df, args.out, force=args.force)
    n_items = sum(c in model.items for c in df.columns)
    extra = f", {df.attrs['smsem']['missing']['realized_rate']:.1%} missing" if "missing" in df.attrs["smsem"] else ""
    print(f"wrote {csv} ({_count(len(df), 'respondent')} x {_count(n_items, 'item')}{extra}) and {meta}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from .exceptions import OptionError

    if args.group is None and (args.group_equal or args.group_partial):
        raise OptionError("--group-equal and --group-partial need --group COLUMN")
    if args.ordered is not None or args.estimator in ("WLSMV", "ULSMV", "DWLS", "ULS", "WLS"):
        if args.group is not None:  # ordinal multiple-group fit (delta): estimate/categorical/multigroup.py
            from .estimate.categorical.multigroup import cmd_fit_ordinal_groups

            return cmd_fit_ordinal_groups(args)
        return _cmd_fit_ordinal(args)
    if args.estimator is None:
        args.estimator = "ML"
    if args.missing == "pairwise":
        raise OptionError("--missing pairwise is for ordinal items (--ordered); use listwise or fiml")
    if args.group is not None and args.boot and (args.estimator != "ML" or args.missing != "listwise"):
        raise OptionError("--group with --boot resamples within groups and refits by complete-data ML: "
                          "use --estimator ML --missing listwise, or --boot 0")
    if args.interaction_method is not None or args.match or args.chain:
        return _cmd_fit_interaction(args)
    boot_given = args.boot
    if args.boot is None:
        args.boot = 0 if args.group is not None else 1000
    if args.group is not None:
        if args.missing == "fiml" and args.estimator == "MLM":
            raise OptionError("--missing fiml works with --estimator ML or MLR (robust FIML), not MLM, "
                              "which needs complete data")
        return _cmd_fit_groups(args)
    if args.missing == "fiml" and args.estimator == "MLM":
        raise OptionError("--missing fiml works with --estimator ML or MLR (robust FIML), not MLM, "
                          "which needs complete data")
    # Input problems (model, survey file, column map, output folder) are reported before the
    # estimation code (semopy, scipy.stats) is imported, so a typo costs no import time.
    from ._validation import check_input_file
    from .model import load_model

    check_input_file(args.file)
    if args.verbose:
        _verbose_logging()
    model = load_model(args.model)
    if model.parsed.latent_interactions:  # the default interaction method and its report
        args.boot = boot_given
        return _cmd_fit_interaction(args)
    from .io import check_writable, read_survey

    if args.out is not None:  # refuse before any work, so nothing is half-written
        from .report.bundle import report_file_names

        for name in report_file_names():
            check_writable(Path(args.out) / name, args.force)
    from .estimate.options import check_lavaan_options
    from .model.hypotheses import with_hypotheses

    if args.hypotheses is not None:  # a bad file fails before any work
        model = with_hypotheses(model, args.hypotheses)
    options = dict(std_lv=args.std_lv, meanstructure=args.meanstructure, fixed_x=args.fixed_x,
                   model_type=args.model_type)
    check_lavaan_options(model, missing=args.missing, **options)
    data = read_survey(args.file, model, columns=args.columns, missing=args.missing, likert=args.likert)

    from . import effects, fit, proposition_table, reliability
    from .report import render_effects, render_propositions, render_quality
    from .report.fit_section import render_fit, render_fit_report, render_parameters

    res = fit(model, data, estimator=args.estimator, missing=args.missing, **options)
    boot = None
    if args.boot > 0:
        from .bootstrap import bootstrap

        boot = bootstrap(res, n_boot=args.boot, seed=args.seed, jobs=args.jobs,
                         progress=False if args.quiet else None,
                         include_inadmissible=not args.exclude_inadmissible)
    eff = effects(res, level=args.level, boot=boot, ci=args.ci)
    quality = reliability(res)
    table = proposition_table(res, boot, n_boot=0, seed=args.seed, level=args.level, ci=args.ci,
                              jobs=args.jobs, progress=False if args.quiet else None)
    if args.format == "json":  # the proposition document plus fit cut-offs and parameters
        sys.stdout.write(render_fit_report(res, table, "json"))
    else:
        sys.stdout.write(render_propositions(table, args.format))
    if args.format in ("text", "markdown"):
        sys.stdout.write("\n" + render_fit(res, args.format) + "\n" + render_parameters(res, args.format))
    if args.format in ("text", "markdown", "latex"):
        sys.stdout.write("\n" + render_effects(eff, args.format) + "\n" + render_quality(quality, args.format))
    if args.format in ("text", "markdown"):
        sys.stdout.write("\n" + _render_after_fit(res, args.modindices))
    if args.out is not None:
        from .report import report_files, write_report_files

        files = report_files(res, eff, quality, table, level=args.level, boot=boot, ci=args.ci,
                             modindices_min=args.modindices if args.modindices is not None else 0.0)
        written = write_report_files(args.out, files, force=args.force)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


def _cmd_fit_interaction(args: argparse.Namespace) -> int:
    """``smsem fit FILE --model M.lav --interaction-method METHOD``: a model with latent
    interactions, its estimates and the moderation report (simple slopes, Johnson-Neyman,
    conditional indirect effects along ``--chain``; ``--boot N`` bootstrap CIs, default 0;
    ``--out DIR`` the simple-slopes figures)."""
    from .exceptions import OptionError
    from ._validation import check_input_file
    from .model import load_model

    if args.group is not None:
        raise OptionError("--interaction-method with --group is not supported yet")
    check_input_file(args.file)
    model = load_model(args.model)
    if not model.parsed.latent_interactions:
        raise OptionError(f"--interaction-method/--match/--chain need a latent interaction (a:b with a latent "
                          f"variable) in the model; {args.model} has none")
    chain = [_split_list(c) for c in (args.chain or [])]
    for c in chain:
        if len(c) < 3:
            raise OptionError(f"--chain needs at least three variables (source, mediator, outcome), got {','.join(c)!r}")
        for v in c:
            if v not in model.latents and v not in model.items:
                raise OptionError(f"--chain: {v!r} is not a variable of the model")
    chain = chain or None
    from .io import check_writable, read_survey, write_text

    def _figure_names():
        for p in model.parsed.regressions:
            if p.rhs in {t for t, _, _ in model.parsed.latent_interactions}:
                a, b = p.rhs.split(":")
                for focal, mod in ((a, b), (b, a)):
                    yield p.lhs, focal, mod, f"simple_slopes_{focal}_{p.lhs}_by_{mod}"

    if args.out is not None:  # refuse before any work, so nothing is half-written
        names = ["moderation.json", "moderation.md"] + [
            f"{stem}.{ext}" for *_, stem in _figure_names() for ext in ("png", "svg")]
        for name in names:
            check_writable(Path(args.out) / name, args.force)
    data = read_survey(args.file, model, columns=args.columns, missing=args.missing, likert=args.likert)
    from . import fit
    from .estimate.interaction.moderation import moderation_report, plot_simple_slopes, render_moderation

    options = dict(estimator=args.estimator, missing=args.missing, std_lv=args.std_lv,
                   meanstructure=args.meanstructure, fixed_x=args.fixed_x, model_type=args.model_type)
    if args.match:
        options["match"] = True
    res = fit(model, data, interaction_method=args.interaction_method, **options)
    n_boot = args.boot or 0
    rep = moderation_report(res, chain=chain, n_boot=n_boot, seed=args.seed, level=args.level)
    fmt = args.format if args.format in ("text", "markdown", "json") else "text"
    text = render_moderation(rep, fmt)
    if fmt != "json":  # lavaan's layout: LMS/QML by interaction_summary_text, dmc/rca the product-indicator SEM's
        summary = res.summary().rstrip("\n")
        text = (f"```\n{summary}\n```" if fmt == "markdown" else summary) + "\n\n" + text
    import json

    props = _interaction_propositions(model, args.hypotheses)
    json_doc = json.loads(render_moderation(rep, "json"))
    md_text = render_moderation(rep, "markdown")
    if props:
        from .estimate.interaction.moderation import p5_json, render_p5_moderation
        from .propositions import p5_moderation_block

        block = p5_moderation_block(res, props, level=args.level)
        if len(block["table"]):
            json_doc["p5_as_moderation"] = p5_json(block)
            md_text += "\n" + render_p5_moderation(block, "markdown")
            if fmt != "json":
                text += "\n" + render_p5_moderation(block, fmt)
    from .estimate.interaction.moderation import json_safe

    json_text = json.dumps(json_safe(json_doc), indent=2, allow_nan=False) + "\n"
    if fmt == "json":
        text = json_text
    sys.stdout.write(text)
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "moderation.json", json_text, force=args.force)
        write_text(out / "moderation.md", md_text, force=args.force)
        for y, focal, mod, stem in _figure_names():
            plot_simple_slopes(res, y, focal, mod, out / stem, force=args.force)
        print(f"wrote the moderation report and figures to {args.out}", file=sys.stderr)
    return 0


def _interaction_propositions(model, hypotheses):
    """Propositions for the "P5 as moderation" block: ``--hypotheses``, the model's own, or
    the shipped codebook's when the model has every construct of it (the essay's second
    reading, models/integrative_moderation.lav, has the integrative model's constructs)."""
    if hypotheses is not None:
        from .model.hypotheses import load_hypotheses

        return list(load_hypotheses(hypotheses, model))
    if model.propositions:
        return list(model.propositions)
    from .model import load_model

    base = load_model("integrative")
    if set(base.latents) <= set(model.latents):
        regs = {(p.lhs, p.rhs) for p in model.parsed.regressions}
        return [p for p in base.propositions if getattr(p, "kind", "path") != "path" or (p.target, p.source) in regs]
    return []


def _split_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _cmd_fit_groups(args: argparse.Namespace) -> int:
    """``smsem fit FILE --group COLUMN``: the multiple-group fit (lavaan's group-stacked
    table and the overall fit) and the proposition table of a multiple-group fit: each
    proposition path per group, then the group-difference block (Wald tests, stratified
    bootstrap CIs with ``--boot N``). ``--format`` picks the proposition table's format;
    ``--out DIR`` writes the fit text, the parameter table and both blocks in every table
    format."""
    from ._validation import check_input_file
    from .model import load_model

    out_names = []
    if args.out is not None:  # refuse before any work, so nothing is half-written
        from .io import check_writable

        out_names = (["fit.txt", "parameters.csv"] + [f"propositions.{e}" for e in ("txt", "md", "tex", "csv", "json")]
                     + [f"group_differences.{e}" for e in ("txt", "md", "tex", "csv", "json")]
                     + ([f"modindices.{e}" for e in ("txt", "md", "csv", "json")] if args.modindices is not None else []))
        for name in out_names:
            check_writable(Path(args.out) / name, args.force)
    check_input_file(args.file)
    model = load_model(args.model)
    if args.hypotheses is not None:  # a bad file fails before any work
        from .model.hypotheses import with_hypotheses

        model = with_hypotheses(model, args.hypotheses)
    from .io import read_survey

    data = read_survey(args.file, model, columns=args.columns, missing=args.missing, likert=args.likert,
                       keep=[args.group])
    from . import fit

    options = dict(std_lv=args.std_lv, meanstructure=args.meanstructure, fixed_x=args.fixed_x,
                   model_type=args.model_type)
    options = {k: v for k, v in options.items() if v is not None}
    res = fit(model, data, group=args.group, group_equal=_split_list(args.group_equal),
              group_partial=_split_list(args.group_partial), estimator=args.estimator, missing=args.missing,
              **options)
    from .estimate.multigroup import stratified_bootstrap
    from .propositions import group_proposition_table
    from .report.tables import group_table_files, render_propositions

    boot = stratified_bootstrap(res, args.boot, seed=args.seed) if args.boot else None
    table = group_proposition_table(res, boot, model=model, level=args.level)
    mi_text = {}
    if args.modindices is not None:  # lavaan's modindices(fit) of the multiple-group fit, per group
        from .report.after import render_modindices

        mi_text = {fmt: render_modindices(res, fmt, minimum=args.modindices)
                   for fmt in ("text", "markdown", "csv", "json")}
    if args.format == "json":  # the proposition document (paths per group, group_differences) and the fit
        import json

        doc = json.loads(render_propositions(table, "json"))
        doc["groups"] = {"column": res.group, "labels": list(res.group_labels), "n": list(res.n_per_group)}
        doc["parameters"] = json.loads(res.params.to_json(orient="records"))
        if mi_text:
            doc["modindices"] = json.loads(mi_text["json"])["modindices"]
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "text":
        sys.stdout.write(str(res) + "\n" + render_propositions(table, "text")
                         + ("\n" + mi_text["text"] + "\n" if mi_text else ""))
    elif args.format == "markdown":
        sys.stdout.write("```\n" + str(res) + "```\n\n" + render_propositions(table, "markdown")
                         + ("\n" + mi_text["markdown"] + "\n" if mi_text else ""))
    else:
        sys.stdout.write(render_propositions(table, args.format))
    if args.out is not None:
        import io as _io

        from .io import write_text

        buf = _io.StringIO()
        res.params.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
        files = {"fit.txt": str(res), "parameters.csv": buf.getvalue(), **group_table_files(table, mi_text)}
        for name, content in files.items():
            write_text(Path(args.out) / name, content, force=args.force)
        print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)
    return 0


def _cmd_fit_ordinal(args: argparse.Namespace) -> int:
    """``smsem fit FILE --ordered ...``: lavaan's WLSMV (and ULSMV, DWLS, ULS, WLS) fit."""
    from .exceptions import OptionError

    if args.ordered is None:
        raise OptionError(f"--estimator {args.estimator} needs --ordered all|ITEM,ITEM")
    est = args.estimator or "WLSMV"
    if est in ("ML", "MLM", "MLR"):
        raise OptionError(f"--estimator {est} with --ordered is not supported: use WLSMV, ULSMV, DWLS, ULS or WLS")
    if args.missing == "fiml":
        raise OptionError("--missing fiml is not available with --ordered (lavaan: listwise or pairwise)")
    if args.format not in ("text", "markdown", "csv", "json"):
        raise OptionError(f"--format {args.format} is not supported yet with --ordered (text, markdown, csv, json)")
    from ._validation import check_input_file
    from .model import load_model

    check_input_file(args.file)
    model = load_model(args.model)
    if args.hypotheses is not None:  # a bad file fails before any work
        from .model.hypotheses import with_hypotheses

        model = with_hypotheses(model, args.hypotheses)
    from .io import check_writable, read_survey

    if args.out is not None:  # refuse before any work, so nothing is half-written
        from .estimate.categorical.report import ordinal_report_file_names

        for name in ordinal_report_file_names(modindices=args.modindices is not None):
            check_writable(Path(args.out) / name, args.force)

    options = dict(std_lv=args.std_lv, meanstructure=args.meanstructure, fixed_x=args.fixed_x,
                   model_type=args.model_type)
    if options["meanstructure"]:
        raise OptionError("--meanstructure is not supported yet with --ordered")
    options.pop("meanstructure")
    # pairwise: every row with an answer counts (read_survey's "fiml" row check), not only complete rows
    data = read_survey(args.file, model, columns=args.columns,
                       missing="fiml" if args.missing == "pairwise" else "listwise", likert=args.likert)
    ordered = (True if args.ordered.strip().lower() == "all"
               else [v.strip() for v in args.ordered.split(",") if v.strip()])
    from .estimate.categorical.fit import fit_ordinal, render_ordinal

    res = fit_ordinal(model, data, ordered=ordered, estimator=est, missing=args.missing,
                      parameterization=args.parameterization, **options)
    boot = bs = None
    if args.boot:  # percentile CIs from the batched bootstrap; its draws also give the verdicts
        from .estimate.categorical.bootstrap import bootstrap_ordinal

        bs = bootstrap_ordinal(res, args.boot, seed=args.seed)
        from .estimate.categorical.bootstrap import ordinal_conf_int

        boot = (ordinal_conf_int(res, bs, args.level, args.ci), bs.n_ok, args.boot, args.level, args.ci)
    out = render_ordinal(res, args.format, boot=boot)
    from . import effects, reliability
    from .report import render_effects

    # specific indirect chains, total indirect and total effects, := rows: delta-method SEs from the
    # robust vcov, bootstrap CIs (--ci) from the batched ordinal draws
    eff = effects(res, level=args.level, boot=bs, ci=args.ci)
    if args.format in ("text", "markdown"):
        out += "\n" + render_effects(eff, args.format) + "\n"
    elif args.format == "json":
        import json

        doc = json.loads(out)
        doc["effects"] = json.loads(render_effects(eff, "json"))
        if args.modindices is not None:
            from .report.after import render_modindices

            doc["modindices"] = json.loads(render_modindices(res, "json", minimum=args.modindices))
        out = json.dumps(doc, indent=2) + "\n"
    if args.modindices is not None and args.format in ("text", "markdown"):
        from .report.after import render_modindices  # lavaan's modindices() of the WLSMV fit

        out += "\n" + render_modindices(res, args.format, minimum=args.modindices) + "\n"

    covariates = bool((getattr(res, "_ordinal", None) or {}).get("covariates"))
    quality = None if covariates else reliability(res)  # semTools' ordinal alpha, categorical omega, AVE, HTMT
    if covariates and args.format in ("text", "markdown"):
        from .estimate.categorical.report import _NO_QUALITY

        out += "\n" + _NO_QUALITY + "\n"
    elif args.format in ("text", "markdown"):
        from .report import render_quality

        out += ("\nOrdinal items: Alpha = ordinal alpha (alpha of the polychorics), CR = categorical omega "
                "(compRelSEM(fit), ord.scale = TRUE), HTMT on the polychorics.\n"
                + render_quality(quality, args.format))
    table = None
    if model.propositions:  # the codebook's or --hypotheses' propositions
        from .estimate.categorical.propositions import ordinal_proposition_table

        table = ordinal_proposition_table(res, bs, n_boot=0, level=args.level, ci=args.ci)
    if table is not None and args.format != "csv":
        from .report import render_propositions

        if args.format == "json":
            import json

            doc = json.loads(out)
            doc["propositions"] = json.loads(render_propositions(table, "json"))
            out = json.dumps(doc, indent=2) + "\n"
        else:
            out = render_propositions(table, args.format) + "\n" + out
    sys.stdout.write(out)
    if args.out is not None:
        from .estimate.categorical.report import ordinal_report_files
        from .report import write_report_files

        written = write_report_files(args.out, ordinal_report_files(res, quality, table, boot=boot, effects=eff,
                                                                   modindices_min=args.modindices), force=args.force)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


def _render_after_fit(res, modindices_min: float | None) -> str:
    """R² of every endogenous variable and, on request, the modification indices."""
    from .estimate.diagnostics import modindices, r2

    out = ["R-square (lavInspect(fit, \"r2\"))", ""]
    rsq = r2(res)
    out.append(_plain_table(rsq))
    if modindices_min is not None:
        mi = modindices(res, minimum=modindices_min)
        out += ["", f"Modification indices >= {modindices_min:g} (lavaan's modindices(), largest first)", ""]
        out.append(mi.to_string(index=False, float_format=lambda v: f"{v:.3f}") if len(mi)
                   else f"none of at least {modindices_min:g}")
    return "\n".join(out) + "\n"


def _plain_table(df) -> str:
    """``df.to_string(index=False, float_format="{:.3f}")`` for a table of text and float
    columns, written out (pandas' formatter costs more than the rest of the report): every
    column right-aligned to its widest cell or header, one space between columns, NaN as
    "NaN". Any other table goes to pandas."""
    cols = list(df.columns)
    kinds = [df[c].dtype.kind for c in cols]
    if not len(df) or any(k not in "fOT" for k in kinds) or not all(isinstance(c, str) for c in cols):
        return df.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    cells = []
    for c, k in zip(cols, kinds):
        values = df[c].tolist()
        if k == "f":
            cells.append(["NaN" if v != v else f"{v:.3f}" for v in values])
        elif all(isinstance(v, str) for v in values):
            cells.append(values)
        else:
            return df.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    widths = [max(len(h), *(len(v) for v in col)) for h, col in zip(cols, cells)]
    lines = [" ".join(h.rjust(w) for h, w in zip(cols, widths))]
    lines += [" ".join(v.rjust(w) for v, w in zip(row, widths)) for row in zip(*cells)]
    return "\n".join(lines)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from . import fit, load_model, proposition_table, simulate, write_survey
    from .io import check_writable, write_text
    from .report import render_propositions, render_reproduction

    out = Path(args.out)
    files = [out / n for n in ("survey.csv", "survey.json", "estimates.csv", "propositions.csv",
                               "report.md")]
    for f in files:  # refuse before any work, so nothing is half-written
        check_writable(f, args.force)
    model = load_model("integrative")
    df = simulate(model, n=args.n, seed=args.seed)
    res = fit(model, df)
    table = proposition_table(res, n_boot=args.boot, seed=args.seed, progress=False if args.quiet else None)
    text = render_propositions(table, "text")
    sys.stdout.write(text)
    write_survey(df, files[0], force=args.force)
    write_text(files[2], res.params.to_csv(index=False, float_format="%.6g", lineterminator="\n"), force=args.force)
    write_text(files[3], render_propositions(table, "csv"), force=args.force)
    report = render_reproduction(res, table, json.loads(files[1].read_text(encoding="utf-8")), boot_seed=args.seed)
    write_text(files[4], report, force=args.force)
    print(f"\nwrote {', '.join(str(f) for f in files)}")
    return 0


def _cmd_power(args: argparse.Namespace) -> int:
    from .exceptions import OptionError
    from .montecarlo.config import load_config

    if args.resume and args.force:
        raise OptionError("--resume and --force exclude each other")
    config = load_config(args.config)
    from .montecarlo.invariance_study import InvarianceStudyConfig

    if isinstance(config, InvarianceStudyConfig):
        return _cmd_power_invariance(args, config)
    from .report.montecarlo import CSV_OUTPUTS

    out = Path(args.out) if args.out else Path(f"smsem-power-{Path(args.config).stem}")
    if not (args.resume or args.force):  # refuse before any work
        old = [out / n for n in (*CSV_OUTPUTS, "report.md") if (out / n).exists()]
        if old:
            raise OptionError(f"{old[0]} already exists; use --resume to continue the study or --force to start again")
    from .montecarlo.runner import run_study
    from .report.montecarlo import render_planning_text, write_outputs

    try:
        res = run_study(config, out, jobs=args.jobs, scheduler=args.scheduler, resume=args.resume,
                        force=args.force, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"smsem: interrupted; the finished replications are stored in {out}; "
              "rerun with --resume to continue", file=sys.stderr)
        return 130
    files = write_outputs(res, out)
    sys.stdout.write(render_planning_text(res))
    print(f"\n{len(res.replications)} of {config.n_tasks} replications stored; wrote "
          f"{', '.join(f.name for f in files)} in {out}")
    reps = res.replications
    if len(reps) and not (reps.status == "ok").any():
        first = str(reps.reason.dropna().iloc[0]) if reps.reason.notna().any() else "unknown reason"
        print(f"smsem: error: no replication converged ({len(reps)} failed; first: {_one_line(first)}); "
              f"see {out / 'replications.csv'}", file=sys.stderr)
        return 2
    return 0


def _cmd_power_invariance(args: argparse.Namespace, config) -> int:
    """``smsem power CONFIG`` for a configuration with an ``invariance:`` key: power and
    false-alarm rates of the invariance sequence (:mod:`smsem.montecarlo.invariance_study`)."""
    from .exceptions import OptionError
    from .io import check_writable, write_text
    from .montecarlo.invariance_study import render_invariance_study, run_invariance_study

    if args.scheduler is not None:
        raise OptionError("--scheduler is not supported for invariance studies yet; use --jobs N (local processes)")
    from .montecarlo.invariance_study import INVARIANCE_STORE_NAME

    out = Path(args.out) if args.out else Path(f"smsem-power-{Path(args.config).stem}")
    names = {"invariance_power.csv": "csv", "invariance_power.json": "json", "report.md": "markdown",
             "invariance_power.txt": "text"}
    if not (args.resume or args.force):  # refuse before any work
        for name in [INVARIANCE_STORE_NAME, *names]:
            if (out / name).exists():
                raise OptionError(f"{out / name} already exists; use --resume to continue the study or --force to "
                                  "start again")
    for name in names:
        check_writable(out / name, True)
    try:  # every finished replication is stored in out/invariance.sqlite (resumable)
        table = run_invariance_study(config, jobs=args.jobs, out=out, resume=args.resume, force=args.force)
    except KeyboardInterrupt:
        print(f"smsem: interrupted; the finished replications are stored in {out}; "
              "rerun with --resume to continue", file=sys.stderr)
        return 130
    text = render_invariance_study(config, table, "text")
    for name, fmt in names.items():
        write_text(out / name, text if fmt == "text" else render_invariance_study(config, table, fmt), force=True)
    sys.stdout.write(text)
    print(f"\n{int(table.groupby(['n', 'condition']).reps.first().sum())} of {config.n_tasks} replications "
          f"converged; wrote {', '.join(names)} in {out}")
    if not (table.reps > 0).any():
        print("smsem: error: no replication converged", file=sys.stderr)
        return 2
    return 0


def _groups_option(text: str | None) -> tuple[str, str] | None:
    from .exceptions import OptionError

    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise OptionError(f"--compare needs two group names separated by a comma, got {text!r}")
    return parts[0], parts[1]


def _cmd_generate_diagnostic(args: argparse.Namespace) -> int:
    from .diagnostic import simulate_diagnostic
    from .io import write_survey

    levels = [v.strip() for v in args.level.split(",")]
    df = simulate_diagnostic(level=levels, n=args.n, gap=args.gap, seed=args.seed, missing=args.missing)
    csv, meta = write_survey(df, args.out, force=args.force)
    print(f"wrote {csv} ({_count(len(levels), 'organization')} x 2 departments x "
          f"{_count(args.n, 'respondent')}) and {meta}")
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from ._validation import check_input_file

    check_input_file(args.file)  # before the statistics code is imported
    from .diagnostic import diagnose_file
    from .exceptions import OptionError
    from .io import check_writable, write_text
    from .report.diagnostic import plot_diagnostic, render_diagnostic

    groups = _groups_option(args.compare)
    if groups is not None and args.group is None:
        raise OptionError("--compare needs --group (the column holding the groups)")
    files: dict[str, Path] = {}
    if args.out is not None:
        out = Path(args.out)
        names = ["respondents.csv", "organizations.csv", "diagnostic.json", "report.md", "scores_by_group.png"]
        if args.group is not None:
            names += ["groups.csv", "item_gaps.csv"]
        files = {n: out / n for n in names}
        for f in files.values():  # refuse before any work, so nothing is half-written
            check_writable(f, args.force)
    res = diagnose_file(args.file, group=args.group, org=args.org, groups=groups)
    sys.stdout.write(render_diagnostic(res, args.format))
    if files:
        plot_diagnostic(res, files["scores_by_group.png"], force=args.force)
        for name, path in files.items():
            if name.endswith(".csv"):
                write_text(path, render_diagnostic(res, "csv", table=name[:-4]), force=args.force)
        write_text(files["diagnostic.json"], render_diagnostic(res, "json"), force=args.force)
        write_text(files["report.md"], render_diagnostic(res, "markdown", figure="scores_by_group.png",
                                                         top_items=20), force=args.force)
        print(f"wrote {', '.join(str(f) for f in files.values())}", file=sys.stderr)
    return 0


_COMMANDS = {"generate": _cmd_generate, "fit": _cmd_fit, "reproduce": _cmd_reproduce, "diagnose": _cmd_diagnose,
             "generate-diagnostic": _cmd_generate_diagnostic, "power": _cmd_power}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smsem`` console script."""
    if "numpy" not in sys.modules:
        # One BLAS thread (unless the user set one): smsem's matrices are small, parallel
        # work runs in processes (--jobs) that pin one thread each, and BLAS threads that
        # compete for busy cores slow a fit down by an order of magnitude.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # Warnings go to stderr as one line each, without source lines; the filters and the
    # SIGTERM handler are restored on return, so calling main() from Python leaks no state.
    with warnings.catch_warnings():
        seen: set[str] = set()

        def show(msg, *args, **kwargs):  # each distinct warning once (refits repeat them)
            line = f"smsem: warning: {_one_line(msg)}"
            if line not in seen:
                seen.add(line)
                print(line, file=sys.stderr)

        warnings.showwarning = show  # type: ignore[assignment]
        # semopy reports some trouble (e.g. a singular information matrix) through the root
        # logger; show it in the same one-line form instead of "WARNING:root:...".
        handler = _LogToWarningLine(show)
        root = logging.getLogger()
        root.addHandler(handler)
        saved = root.handlers[:-1]
        for h in saved:
            root.removeHandler(h)
        warnings.simplefilter("default", SmsemWarning)
        previous = _install_sigterm()  # SIGTERM unwinds like Ctrl-C: temporary files are removed
        try:
            return _run(args)
        finally:
            _quiet_logging()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            root.removeHandler(handler)
            for h in saved:
                root.addHandler(h)


_VERBOSE: list[tuple[logging.Handler, int, bool]] = []  # what _verbose_logging changed


def _verbose_logging() -> None:
    """Print smsem's INFO log records (e.g. the detected encoding) as ``smsem: ...`` lines
    (undone when :func:`main` returns)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("smsem: %(message)s"))
    log = logging.getLogger("smsem")
    _VERBOSE.append((handler, log.level, log.propagate))
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False


def _quiet_logging() -> None:
    log = logging.getLogger("smsem")
    while _VERBOSE:
        handler, level, propagate = _VERBOSE.pop()
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


class _LogToWarningLine(logging.Handler):
    """Print library log records of level WARNING and above as ``smsem: warning: ...``."""

    def __init__(self, show) -> None:
        super().__init__(level=logging.WARNING)
        self._show = show

    def emit(self, record: logging.LogRecord) -> None:
        self._show(f"estimation: {record.getMessage()}")


def _run(args: argparse.Namespace) -> int:
    try:
        return _COMMANDS[args.command](args)
    except SmsemError as exc:
        print(f"smsem: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a reader that stopped (| head): end quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except OSError as exc:  # the environment (permissions, full disk), not a bug
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"smsem: error: {where}{_one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("smsem: interrupted; no partial output was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in smsem: still one line, traceback on request
        if os.environ.get("SMSEM_TRACEBACK"):
            raise
        print(f"smsem: internal error (please report it; set SMSEM_TRACEBACK=1 for details): "
              f"{type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1


def _count(n: int, noun: str) -> str:
    """``1 respondent``, ``2 respondents``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _one_line(obj: object) -> str:
    return " ".join(str(obj).split())


def _install_sigterm():
    owner = os.getpid()

    def handler(signum, frame):  # noqa: ARG001
        if os.getpid() != owner:  # a forked worker (bootstrap pool): die quietly, as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread (e.g. called from a worker): leave it alone
        return None



def _cmd_compare(args: argparse.Namespace) -> int:
    """``smsem compare FILE A.lav B.lav [...]``: the comparison table and a verdict line."""
    from . import fit, load_model, read_survey
    from .estimate.compare import compare
    from .exceptions import OptionError, SpecError

    if len(args.models) < 2:
        raise OptionError(f"compare needs at least two models, got {len(args.models)}")
    models = [load_model(m) for m in args.models]
    for m, a in zip(models, args.models):
        if m.parsed.latent_interactions:
            raise OptionError(f"{a}: a model with latent interactions is compared with its linear model by "
                              f"'smsem fit FILE --model {a} --interaction-method ...' (LRT, AIC, BIC in its report)")
    items = set(models[0].items)
    for m in models[1:]:
        if set(m.items) != items:
            raise SpecError(f"models {models[0].name!r} and {m.name!r} use different items; likelihoods of "
                            "different variables cannot be compared")
    data = read_survey(args.file, models[0], columns=args.columns)
    results = [fit(m, data, estimator=args.estimator) for m in models]
    names = [Path(a).stem if a.endswith(".lav") else a for a in args.models]
    sys.stdout.write(str(compare(*results, method=args.method, names=names)))
    return 0


_COMMANDS["compare"] = _cmd_compare


def _cmd_invariance(args: argparse.Namespace) -> int:
    """``smsem invariance FILE --group COLUMN``: the configural -> strict table, the nested
    tests, Chen's cut-offs, a verdict; score tests and a suggested --group-partial when a
    step fails; latent mean differences once scalar invariance holds."""
    from ._validation import check_input_file
    from .exceptions import OptionError
    from .model import load_model

    if args.estimator == "ML" and args.method != "default" and args.ordered is None:
        raise OptionError(f"--method {args.method} needs --estimator MLM or MLR (a scaled test)")
    check_input_file(args.file)
    model = load_model(args.model)
    from .io import read_survey

    if args.parameterization != "delta" and args.ordered is None:
        raise OptionError("--parameterization is for ordinal items (--ordered)")
    data = read_survey(args.file, model, columns=args.columns, keep=[args.group])
    if args.ordered is not None or args.estimator == "WLSMV":  # estimate/categorical/invariance.py
        from .estimate.categorical.invariance import ordinal_invariance

        if args.ordered is None:
            raise OptionError("--estimator WLSMV needs --ordered all|ITEM,ITEM")
        if args.method != "default":
            raise OptionError("--method is for MLM/MLR; with --ordered the difference test is lavaan's (satorra.2000)")
        ordered = (True if args.ordered.strip().lower() == "all"
                   else [v.strip() for v in args.ordered.split(",") if v.strip()])
        sys.stdout.write(str(ordinal_invariance(model, data, args.group, ordered=ordered, estimator="WLSMV",
                                                parameterization=args.parameterization,
                                                group_partial=_split_list(args.group_partial),
                                                std_lv=args.std_lv)))
        return 0
    from .invariance import invariance

    opts = {"std_lv": True} if args.std_lv else {}
    res = invariance(model, data, args.group, group_partial=_split_list(args.group_partial),
                     estimator=args.estimator, method=args.method, **opts)
    sys.stdout.write(str(res))
    return 0


_COMMANDS["invariance"] = _cmd_invariance


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
