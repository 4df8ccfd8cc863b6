# lavaan references for the parameter table and the models users write (issue 12).
#
#   Rscript scripts/lavaan_models_reference.R      (from the repository root)
#
# Writes to tests/reference/lavaan_models/, for each case <case> of the `cases` list below:
#   <case>.lav          the model syntax exactly as fitted
#   <case>.partable.csv parTable(fit): id lhs op rhs user block group free ustart exo label plabel start est se
#   <case>.params.csv   parameterEstimates(fit, ci = TRUE, standardized = TRUE, rsquare = FALSE):
#                       lhs op rhs label est se z pvalue ci.lower ci.upper std.lv std.all
#                       (rows and their order exactly as lavaan returns them; label "" when none)
#   <case>.std.csv      standardizedSolution(fit, type = "std.all"): lhs op rhs est.std se z pvalue ci.lower ci.upper
#   <case>.fit.csv      every fitMeasures(fit) value (name, value)
#   <case>.meta.json    the case, the exact R call (function and every non-default option), the
#                       options lavaan used, R and lavaan versions, the data file, ntotal, npar, df
# and the data sets, each written once and read back with read.csv before fitting (so R fits
# exactly the numbers the Python tests read):
#   HolzingerSwineford1939.csv       lavaan's HS data, all 15 columns; `school` as integer codes
#                                    1 = Grant-White, 2 = Pasteur (as.integer of the factor);
#                                    sex stays 1/2, grade has one NA (empty cell)
#   HolzingerSwineford1939_mcar.csv  the same with ~10 % of the x1..x9 cells set missing
#                                    completely at random (set.seed(20261129); empty cells)
#   PoliticalDemocracy.csv, Demo.growth.csv, FacialBurns.csv (lavaan), swiss.csv (datasets::swiss,
#                                    column names kept, e.g. Infant.Mortality: dotted names are tested)
#
# Conventions: lavaan's defaults unless the case says otherwise (ML, likelihood "normal" for
# complete data: the sample covariance divides by N; information "expected" for complete data,
# "observed" with missing = "ml"). Numbers carry 15 significant digits (write.csv).
# What lavaan 0.6.14 does here that is easy to get wrong (visible in the files):
#  - parameterEstimates() lists the parTable rows with op =~ ~ ~~ ~1 in table order, then the
#    := rows; it drops the ==, <, > rows (parTable keeps them: user 1, or 2 for a shared label).
#  - fitMeasures' npar = max(free) - number of equality constraints (meta: npar, npar_fitmeasures).
#  - an active inequality ends at the bound to ~1e-7 with se 0 (z, pvalue empty) and leaves df
#    unchanged; the <, > row's est is the slack.
#  - auto.cov.y frees residual covariances only among "pure" dependent variables: y1, y5 that
#    also predict y8 stay uncorrelated (pd_multi_lhs); HADS ~ Selfesteem has no HADS ~~ Selfesteem.
#  - a covariate named in ~~ becomes random with a warning (recorded in meta "warnings").
# Every case here converged in lavaan 0.6.14; the notes say where a case was chosen so that it
# does (e.g. the binding inequalities) or what lavaan does that is easy to get wrong.
suppressPackageStartupMessages(library(lavaan))

out <- file.path("tests", "reference", "lavaan_models")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) {
  # 15 significant digits: far below every tolerance of the tests.
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}

# A small JSON writer (no package needed): scalars, character vectors, named lists (objects).
jarr <- function(x) structure(as.list(x), class = "jarray")  # always a JSON array
jval <- function(x) {
  if (inherits(x, "jarray"))
    return(paste0("[", paste(vapply(unclass(x), jval, ""), collapse = ", "), "]"))
  if (is.list(x)) {
    if (length(x) == 0) return("{}")
    return(paste0("{", paste0('"', names(x), '": ', vapply(x, jval, ""), collapse = ", "), "}"))
  }
  if (length(x) != 1) return(paste0("[", paste(vapply(as.list(x), jval, ""), collapse = ", "), "]"))
  if (is.na(x)) return("null")
  if (is.logical(x)) return(tolower(as.character(x)))
  if (is.numeric(x)) return(format(x, digits = 15))
  s <- gsub("\\\\", "\\\\\\\\", as.character(x))
  s <- gsub('"', '\\\\"', s)
  s <- gsub("\n", "\\\\n", s)
  paste0('"', s, '"')
}
wjson <- function(lst, name) {
  body <- paste0('  "', names(lst), '": ', vapply(lst, jval, ""), collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), file.path(out, name))
}

# ---- data sets (each written once) -------------------------------------------------------
hs <- lavaan::HolzingerSwineford1939
hs$school <- as.integer(hs$school)  # 1 = Grant-White, 2 = Pasteur
set.seed(20261129)
hs_mcar <- hs
xs <- paste0("x", 1:9)
mask <- matrix(runif(nrow(hs) * 9) < 0.10, nrow(hs), 9)
for (j in 1:9) hs_mcar[mask[, j], xs[j]] <- NA
datasets <- list(
  "HolzingerSwineford1939.csv" = hs,
  "HolzingerSwineford1939_mcar.csv" = hs_mcar,
  "PoliticalDemocracy.csv" = lavaan::PoliticalDemocracy,
  "Demo.growth.csv" = lavaan::Demo.growth,
  "FacialBurns.csv" = lavaan::FacialBurns,
  "swiss.csv" = datasets::swiss
)
for (f in names(datasets)) wcsv(datasets[[f]], f)
data_notes <- list(
  "HolzingerSwineford1939.csv" = "lavaan::HolzingerSwineford1939, all columns; school = as.integer(factor): 1 = Grant-White, 2 = Pasteur; grade has one NA",
  "HolzingerSwineford1939_mcar.csv" = sprintf("HolzingerSwineford1939.csv with x1..x9 cells set NA where runif() < 0.10 after set.seed(20261129) (%d of %d cells)", sum(mask), length(mask)),
  "PoliticalDemocracy.csv" = "lavaan::PoliticalDemocracy",
  "Demo.growth.csv" = "lavaan::Demo.growth",
  "FacialBurns.csv" = "lavaan::FacialBurns",
  "swiss.csv" = "datasets::swiss (row names dropped; dotted column names kept: Infant.Mortality)"
)

# ---- the cases ---------------------------------------------------------------------------
HS3 <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
PDM <- paste(
  "ind60 =~ x1 + x2 + x3",
  "dem60 =~ y1 + a*y2 + b*y3 + c*y4",
  "dem65 =~ y5 + a*y6 + b*y7 + c*y8",
  "dem60 ~ ind60",
  "dem65 ~ ind60 + dem60",
  "y1 ~~ y5",
  "y2 ~~ y4 + y6",
  "y3 ~~ y7",
  "y4 ~~ y8",
  "y6 ~~ y8", sep = "\n")
GROWTH <- "i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4\ns =~ 0*t1 + 1*t2 + 2*t3 + 3*t4"
FB_PATH <- "HADS ~ Selfesteem + RUM + Age\nSelfesteem ~ TBSA + Age"
HS_COV <- paste(HS3, "visual + textual + speed ~ sex + ageyr", sep = "\n")

# One entry per case: function (sem/cfa/growth), model syntax, data file, non-default options.
case <- function(name, fun, model, data, options = list(), note = "") {
  list(case = name, fun = fun, model = model, data = data, options = options, note = note)
}
HSD <- "HolzingerSwineford1939.csv"
PDD <- "PoliticalDemocracy.csv"
cases <- list(
  # 1-11 measurement models
  case("hs_cfa", "cfa", HS3, HSD),
  case("hs_cfa_stdlv", "cfa", HS3, HSD, list(std.lv = TRUE)),
  case("hs_stdlv_syntax", "cfa", paste(
    "visual =~ NA*x1 + x2 + x3", "textual =~ NA*x4 + x5 + x6", "speed =~ NA*x7 + x8 + x9",
    "visual ~~ 1*visual", "textual ~~ 1*textual", "speed ~~ 1*speed", sep = "\n"), HSD,
    note = "std.lv identification written in the syntax: NA* frees the first loading"),
  case("hs_fixed_loading", "cfa", "visual =~ x1 + x2 + x3\ntextual =~ x4 + 1*x5 + x6\nspeed =~ x7 + x8 + x9", HSD,
       note = "x4 (first) and x5 both fixed to 1"),
  case("hs_shared_label", "cfa", "visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", HSD,
       note = "shared label: two free rows with the same label and one == row (user 2)"),
  case("hs_equal_modifier", "cfa", "visual =~ x1 + x2 + equal(\"visual=~x2\")*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", HSD),
  case("hs_start", "cfa", "visual =~ x1 + start(0.8)*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", HSD),
  case("hs_orthogonal_syntax", "cfa", paste(HS3, "visual ~~ 0*textual", "visual ~~ 0*speed", "textual ~~ 0*speed", sep = "\n"), HSD),
  case("hs_orthogonal_option", "cfa", HS3, HSD, list(orthogonal = TRUE)),
  case("hs_residual_cov", "cfa", paste(HS3, "x1 ~~ x4", "x7 ~~ x8", sep = "\n"), HSD),
  case("hs_single_indicator", "cfa", "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8\nf9 =~ x9", HSD,
       note = "auto.fix.single: the residual variance of x9 is fixed to 0"),
  case("hs_single_indicator_fixed_resid", "sem",
       "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nf9 =~ x9\nx9 ~~ 0.3*x9\nf9 ~ visual + textual", HSD,
       note = "a user-fixed residual variance of the single indicator replaces auto.fix.single's 0"),
  case("hs_second_order", "cfa", paste(HS3, "g =~ visual + textual + speed", sep = "\n"), HSD),
  # 12-14 structural parts with latent and observed dependent variables
  case("hs_lv_on_covariates", "sem", HS_COV, HSD,
       note = "auto.cov.y frees the residual covariances among visual, textual, speed; sex and ageyr fixed.x"),
  case("hs_lv_on_covariates_nofixedx", "sem", HS_COV, HSD, list(fixed.x = FALSE)),
  case("hs_lv_on_covariates_mlm", "sem", HS_COV, HSD, list(estimator = "MLM")),
  case("hs_observed_outcome", "sem", "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nx9 ~ visual + textual", HSD),
  case("hs_observed_and_latent_dependent", "sem", "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\ntextual ~ visual\nx9 ~ visual", HSD,
       note = "x9 and textual both dependent: auto.cov.y covers observed and latent dependent variables"),
  case("hs_covariate_variance", "sem", "visual =~ x1 + x2 + x3\nvisual ~ sex + ageyr\nageyr ~~ ageyr", HSD,
       note = "a covariate named in ~~: lavaan warns and treats ageyr as random (free variance); sex stays fixed.x"),
  case("hs_covariate_cov_residual", "sem", "visual =~ x1 + x2 + x3\nvisual ~ sex + ageyr\nageyr ~~ x1", HSD,
       note = "a covariate covarying with an indicator's residual: not fixed.x any more"),
  # 15-18 observed-only path models, names
  case("fb_path", "sem", FB_PATH, "FacialBurns.csv"),
  case("fb_path_mlr", "sem", FB_PATH, "FacialBurns.csv", list(estimator = "MLR")),
  case("fb_mediation", "sem", "Selfesteem ~ a*TBSA\nHADS ~ b*Selfesteem + c*TBSA\nind := a*b\ntot := c + a*b", "FacialBurns.csv"),
  case("swiss_regression", "sem", "Fertility ~ Agriculture + Education + Infant.Mortality", "swiss.csv"),
  case("swiss_path_dotted", "sem", "Education ~ Agriculture\nFertility ~ Agriculture + Education + Infant.Mortality\nInfant.Mortality ~ Education", "swiss.csv"),
  case("fb_mixed_case_latent", "sem", "Distress =~ HADS + RUM\nBurnSize =~ TBSA\nDistress ~ Selfesteem + BurnSize + Age", "FacialBurns.csv",
       note = "mixed-case latent and observed names"),
  case("hs_mixed_case_latent", "cfa", "Visual =~ x1 + x2 + x3\nTEXTual =~ x4 + x5 + x6\nspeedFactor =~ x7 + x8 + x9", HSD),
  # 19-20 PoliticalDemocracy
  case("pd_classic", "sem", PDM, PDD),
  case("pd_classic_meanstructure", "sem", PDM, PDD, list(meanstructure = TRUE)),
  case("pd_classic_stdlv", "sem", PDM, PDD, list(std.lv = TRUE),
       note = "with std.lv the labels a, b, c equate loadings of factors with unit variances: a different model (chi2 69.0, not 40.2)"),
  # 21-22, 32 mean structures
  case("hs_intercept_syntax", "cfa", paste(HS3, "x1 ~ 1", sep = "\n"), HSD,
       note = "a ~ 1 in the syntax switches meanstructure on: every intercept free"),
  case("hs_latent_means", "cfa", paste(HS3, "visual ~ 1\ntextual ~ 1\nspeed ~ 1\nx1 ~ 0*1\nx4 ~ 0*1\nx7 ~ 0*1", sep = "\n"), HSD),
  case("hs_cfa_meanstructure", "cfa", HS3, HSD, list(meanstructure = TRUE)),
  # 23-25 growth
  case("growth_linear", "growth", GROWTH, "Demo.growth.csv"),
  case("growth_covariates", "growth", paste(GROWTH, "i + s ~ x1 + x2", sep = "\n"), "Demo.growth.csv"),
  case("growth_tv_covariates", "growth", paste(GROWTH, "i + s ~ x1 + x2", "t1 ~ c1\nt2 ~ c2\nt3 ~ c3\nt4 ~ c4", sep = "\n"), "Demo.growth.csv"),
  case("growth_fixed_resid", "growth", paste(GROWTH, "i ~~ 0*s\nt1 ~~ 1.5*t1", sep = "\n"), "Demo.growth.csv",
       note = "orthogonal growth factors and a fixed residual variance (s ~~ 0*s was dropped: with a zero slope variance lavaan's std.all of s ~1 is Inf)"),
  case("growth_equal_resid", "growth", paste(GROWTH, "t1 ~~ r*t1\nt2 ~~ r*t2\nt3 ~~ r*t3\nt4 ~~ r*t4", sep = "\n"), "Demo.growth.csv"),
  # 26-28 constraints
  case("hs_eq_linear", "cfa", "visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\na == b", HSD),
  case("hs_eq_linear2", "cfa", "visual =~ x1 + x2 + x3\ntextual =~ x4 + a*x5 + b*x6\nspeed =~ x7 + x8 + x9\na - b == 0.3", HSD),
  case("hs_eq_nonlinear", "cfa", "visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\nb == a^2 + 0.3", HSD),
  case("hs_ineq_lt", "cfa", "visual =~ x1 + x2 + b*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\nb < 0.6", HSD,
       note = "unconstrained b = 0.729: the inequality binds"),
  case("hs_ineq_gt", "cfa", "visual =~ x1 + a*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\na > 0.7", HSD,
       note = "unconstrained a = 0.554: the inequality binds"),
  case("hs_ineq_inactive", "cfa", "visual =~ x1 + a*x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\na > 0.2", HSD,
       note = "inactive inequality: the unconstrained solution"),
  # 31 FIML
  case("hs_fiml", "cfa", HS3, "HolzingerSwineford1939_mcar.csv", list(missing = "ml")),
  case("hs_fiml_mlr", "cfa", HS3, "HolzingerSwineford1939_mcar.csv", list(missing = "ml", estimator = "MLR")),
  # 34 multiple lhs
  case("pd_multi_lhs", "sem", "y1 + y5 ~ x1 + x2\ny8 ~ y1 + y5", PDD,
       note = "y1 + y5 ~ ... is two regressions; y1 and y5 also predict y8, so they are not lavaan's ov.y: auto.cov.y leaves y1 ~~ y5 at 0 (df 3)"),
  case("pd_multi_lhs_saturated", "sem", "y1 + y2 ~ x1 + x2", PDD,
       note = "auto.cov.y frees y1 ~~ y2: saturated, df 0"),
  # interaction terms of observed variables (lavaan's ov.interaction: the product of the raw
  # columns is an observed fixed.x covariate)
  case("pd_ov_interaction", "sem", "y1 ~ x1 + x2 + x1:x2", PDD,
       note = "x1:x2 is computed from the raw x1, x2 (no centering); its variance and covariances are fixed.x"),
  case("fb_ov_interaction_latent", "sem", "Distress =~ HADS + RUM\nDistress ~ Selfesteem + Age + Selfesteem:Age", "FacialBurns.csv",
       note = "a latent outcome of an observed interaction"),
  case("pd_ov_interaction_path", "sem", "y1 ~ x1 + x2 + x1:x2\ny5 ~ y1 + x1", PDD,
       note = "the product also sits among the covariates of a second equation")
)

call_string <- function(cs) {
  opts <- vapply(names(cs$options), function(n) paste0(n, " = ", deparse(cs$options[[n]])), "")
  paste0(cs$fun, "(model, data = read.csv(\"", cs$data, "\")",
         if (length(opts)) paste0(", ", paste(opts, collapse = ", ")) else "", ")")
}

for (cs in cases) {
  model_file <- file.path(out, paste0(cs$case, ".lav"))
  writeLines(cs$model, model_file)
  model <- paste(readLines(model_file), collapse = "\n")
  dat <- read.csv(file.path(out, cs$data))
  warns <- character(0)  # lavaan's warnings are part of the reference (e.g. a covariate made random)
  fit <- withCallingHandlers(
    do.call(cs$fun, c(list(model = model, data = dat), cs$options)),
    warning = function(w) {
      warns <<- c(warns, gsub("\\s+", " ", conditionMessage(w)))
      invokeRestart("muffleWarning")
    })
  if (!lavInspect(fit, "converged")) stop("case ", cs$case, " did not converge")

  pt <- parTable(fit)
  pt <- pt[, c("id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo",
               "label", "plabel", "start", "est", "se")]
  wcsv(pt, paste0(cs$case, ".partable.csv"))

  pe <- parameterEstimates(fit, ci = TRUE, level = 0.95, standardized = TRUE, rsquare = FALSE)
  if (!"label" %in% names(pe)) pe$label <- ""
  pe <- pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper",
               "std.lv", "std.all")]
  wcsv(pe, paste0(cs$case, ".params.csv"))

  sa <- standardizedSolution(fit, type = "std.all", level = 0.95)
  sa <- sa[, c("lhs", "op", "rhs", "est.std", "se", "z", "pvalue", "ci.lower", "ci.upper")]
  wcsv(sa, paste0(cs$case, ".std.csv"))

  fm <- fitMeasures(fit)
  wcsv(data.frame(name = names(fm), value = as.numeric(fm)), paste0(cs$case, ".fit.csv"))

  opt <- lavInspect(fit, "options")
  wjson(list(
    case = cs$case,
    call = call_string(cs),
    "function" = cs$fun,
    options = cs$options,
    model = file.path(out, paste0(cs$case, ".lav")),
    data = file.path(out, cs$data),
    data_note = data_notes[[cs$data]],
    note = cs$note,
    r_version = R.version.string,
    lavaan_version = as.character(packageVersion("lavaan")),
    ntotal = lavInspect(fit, "ntotal"),
    npar = as.integer(lavInspect(fit, "npar")),  # parTable's max(free)
    # fitMeasures' npar: free parameters minus the equality constraints (rank of their
    # Jacobian); this is what df counts against.
    npar_fitmeasures = as.integer(fm[["npar"]]),
    n_eq_constraints = sum(pt$op == "=="),
    n_ineq_constraints = sum(pt$op %in% c("<", ">")),
    df = as.numeric(fm[["df"]]),
    converged = lavInspect(fit, "converged"),
    iterations = lavInspect(fit, "iterations"),
    estimator = opt$estimator,
    estimator_requested = if (is.null(cs$options$estimator)) "ML" else cs$options$estimator,
    missing = opt$missing,
    likelihood = opt$likelihood,
    information = opt$information[1],
    se = opt$se,
    test = opt$test,
    std_lv = opt$std.lv,
    meanstructure = lavInspect(fit, "meanstructure"),
    fixed_x = opt$fixed.x,
    orthogonal = opt$orthogonal,
    int_ov_free = opt$int.ov.free,
    int_lv_free = opt$int.lv.free,
    auto_fix_first = opt$auto.fix.first,
    auto_fix_single = opt$auto.fix.single,
    auto_var = opt$auto.var,
    auto_cov_lv_x = opt$auto.cov.lv.x,
    auto_cov_y = opt$auto.cov.y,
    model_type = opt$model.type,
    ov = jarr(lavNames(fit, "ov")),
    lv = jarr(lavNames(fit, "lv")),
    ov_x = jarr(lavNames(fit, "ov.x")),
    warnings = jarr(warns)
  ), paste0(cs$case, ".meta.json"))
  cat(sprintf("%-36s npar %3d  df %3g  chi2 %10.4f\n", cs$case, as.integer(lavInspect(fit, "npar")),
              fm[["df"]], fm[["chisq"]]))
}
cat(length(cases), "cases written to", out, "\n")
