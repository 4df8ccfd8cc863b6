# Reference values from lavaan for smsem's conformance tests (tests/test_lavaan_*.py).
#
#   Rscript scripts/lavaan_reference.R          (from the repository root)
#
# Writes to tests/reference/lavaan/, for each case:
#   <case>.params.csv  parameterEstimates(): lhs, op, rhs, est, se, z, pvalue, ci.lower, ci.upper
#   <case>.std.csv     standardizedSolution() for type std.all and std.lv, with se, z, pvalue, ci
#   <case>.fit.csv     every fitMeasures() value (name, value)
#   <case>.meta.json   R and lavaan versions, the options of the fit, N and the data file
# and exports lavaan's PoliticalDemocracy and HolzingerSwineford1939 (x1..x9) data to CSV so
# that the Python tests fit exactly the same numbers.
#
# Conventions (lavaan defaults, recorded in each meta.json): likelihood = "normal" (the
# sample covariance divides by N, chi2 = 2 N F_ML; not Wishart / N - 1), information =
# "expected" for complete data (lavaan's default for missing = "ml" is "observed"),
# marker-variable scaling (first loading fixed to 1), exogenous latent covariances free.
suppressPackageStartupMessages(library(lavaan))

out <- file.path("tests", "reference", "lavaan")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) {
  # 15 significant digits: far below every tolerance of the tests.
  write.csv(df, file.path(out, name), row.names = FALSE, na = "")
}
jstr <- function(x) {
  if (is.logical(x)) return(tolower(as.character(x)))
  if (is.numeric(x)) return(format(x, digits = 15))
  paste0('"', gsub('"', '\\\\"', as.character(x)), '"')
}
wjson <- function(lst, name) {
  body <- paste0('  "', names(lst), '": ', vapply(lst, jstr, ""), collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), file.path(out, name))
}

read_model <- function(path) paste(readLines(path), collapse = "\n")

pd <- lavaan::PoliticalDemocracy
hs <- lavaan::HolzingerSwineford1939[, paste0("x", 1:9)]
wcsv(pd, "PoliticalDemocracy.csv")
wcsv(hs, "HolzingerSwineford1939.csv")

cov_case <- function(case, estimator, fixed_x, model = "integrative_covariates.lav",
                     data = "integrative_covariates.csv", missing = "listwise") {
  list(case = case, model = file.path(out, model), data = file.path(out, data), estimator = estimator,
       missing = missing, fixed_x = fixed_x)
}

cases <- list(
  list(case = "poldem_ml", model = "tests/reference/lavaan/poldem.lav",
       data = "tests/reference/lavaan/PoliticalDemocracy.csv", estimator = "ML", missing = "listwise"),
  list(case = "poldem_mlm", model = "tests/reference/lavaan/poldem.lav",
       data = "tests/reference/lavaan/PoliticalDemocracy.csv", estimator = "MLM", missing = "listwise"),
  list(case = "hs_ml", model = "tests/reference/lavaan/hs.lav",
       data = "tests/reference/lavaan/HolzingerSwineford1939.csv", estimator = "ML", missing = "listwise"),
  list(case = "hs_mlm", model = "tests/reference/lavaan/hs.lav",
       data = "tests/reference/lavaan/HolzingerSwineford1939.csv", estimator = "MLM", missing = "listwise"),
  list(case = "integrative_ml", model = "models/integrative.lav",
       data = "data/synthetic/integrative_n300_seed1.csv", estimator = "ML", missing = "listwise"),
  list(case = "integrative_mlm", model = "models/integrative.lav",
       data = "data/synthetic/integrative_n300_seed1.csv", estimator = "MLM", missing = "listwise"),
  list(case = "integrative_fiml", model = "models/integrative.lav",
       data = "data/synthetic/integrative_n300_seed1_missing.csv", estimator = "ML", missing = "ml"),
  # MLR: Huber-White SEs from the observed information, Yuan-Bentler (Mplus) scaled test.
  list(case = "integrative_mlr", model = "models/integrative.lav",
       data = "data/synthetic/integrative_n300_seed1.csv", estimator = "MLR", missing = "listwise"),
  list(case = "integrative_fiml_mlr", model = "models/integrative.lav",
       data = "data/synthetic/integrative_n300_seed1_missing.csv", estimator = "MLR", missing = "ml"),
  # Observed covariates (data: python scripts/make_covariate_data.py). smsem treats them as
  # random (fixed.x = FALSE): the same estimates, SEs, chi2, df and baseline as lavaan's
  # default fixed.x = TRUE, which the *_fixedx cases record for the comparison.
  cov_case("covariates_ml", "ML", FALSE),
  cov_case("covariates_ml_fixedx", "ML", TRUE),
  cov_case("covariates_mlm", "MLM", FALSE),
  cov_case("covariates_mlm_fixedx", "MLM", TRUE),
  cov_case("covariates_random_ml", "ML", TRUE, model = "integrative_covariates_random.lav"),
  cov_case("covariates_fiml", "ML", FALSE, data = "integrative_covariates_missing.csv", missing = "ml"),
  cov_case("covariates_mlr", "MLR", FALSE),
  cov_case("covariates_fiml_mlr", "MLR", FALSE, data = "integrative_covariates_missing.csv", missing = "ml")
)

for (cs in cases) {
  dat <- read.csv(cs$data)
  fixed_x <- if (is.null(cs$fixed_x)) TRUE else cs$fixed_x  # lavaan's default unless the case says
  fit <- sem(read_model(cs$model), data = dat, estimator = cs$estimator, missing = cs$missing,
             likelihood = "normal", fixed.x = fixed_x)
  pe <- parameterEstimates(fit, ci = TRUE, level = 0.95)
  pe <- pe[, intersect(c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper"),
                       names(pe))]
  wcsv(pe, paste0(cs$case, ".params.csv"))
  sa <- standardizedSolution(fit, type = "std.all", level = 0.95)
  sl <- standardizedSolution(fit, type = "std.lv", level = 0.95)
  keep <- c("lhs", "op", "rhs", "est.std", "se", "z", "pvalue", "ci.lower", "ci.upper")
  sa <- cbind(type = "std.all", sa[, keep])
  sl <- cbind(type = "std.lv", sl[, keep])
  wcsv(rbind(sa, sl), paste0(cs$case, ".std.csv"))
  fm <- fitMeasures(fit)
  wcsv(data.frame(name = names(fm), value = as.numeric(fm)), paste0(cs$case, ".fit.csv"))
  opt <- lavInspect(fit, "options")
  wjson(list(
    case = cs$case, model = cs$model, data = cs$data,
    r_version = R.version.string, lavaan_version = as.character(packageVersion("lavaan")),
    call = sprintf('sem(model, data, estimator = "%s", missing = "%s", likelihood = "normal", fixed.x = %s)',
                   cs$estimator, cs$missing, fixed_x),
    fixed_x = fixed_x,
    estimator = cs$estimator, lavaan_internal_estimator = opt$estimator, missing = opt$missing,
    likelihood = opt$likelihood,
    information = opt$information[1], se = opt$se, test = paste(opt$test, collapse = ","),
    sample_cov_divisor = "N", ntotal = lavInspect(fit, "ntotal"),
    nobs_used = as.integer(lavInspect(fit, "nobs")), converged = lavInspect(fit, "converged")
  ), paste0(cs$case, ".meta.json"))
  cat("wrote", cs$case, "\n")
}
