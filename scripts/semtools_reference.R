# Reference values from lavaan and semTools for smsem's effects and measurement-quality
# tests (tests/test_effects.py, tests/test_quality.py).
#
#   Rscript scripts/semtools_reference.R          (from the repository root)
#
# Writes to tests/reference/semtools/:
#   HolzingerSwineford1939.csv   lavaan's HolzingerSwineford1939 data, x1..x9
#   <case>.defined.csv  rows of op ":=" (and labelled parameters): name, est, se from
#                       parameterEstimates(); est_std, se_std from standardizedSolution(std.all)
#   <case>.params.csv   parameterEstimates() of the equality-constrained model
#   <case>.quality.csv  per factor: alpha = compRelSEM(tau.eq = TRUE), omega = compRelSEM()
#                       (defaults: obs.var = TRUE, tau.eq = FALSE), ave = AVE() (obs.var = TRUE)
#   <case>.loadings.csv standardizedSolution() std.all loadings (lhs, rhs, est_std)
#   <case>.corlv.csv    lavInspect(fit, "cor.lv"): model-implied latent correlations
#   <case>.covlv.csv    lavInspect(fit, "cov.lv"): model-implied latent covariances
#   <case>.lambda.csv   lavaan's unstandardized loadings (to test smsem's CR/AVE formulas
#                       on lavaan's own estimates, apart from the optimizer)
#   <case>.htmt.csv     htmt(model, data, htmt2 = FALSE)  (arithmetic means, absolute values)
#   <case>.htmt2.csv    htmt(model, data, htmt2 = TRUE)   (geometric means; semTools 0.5.6 default)
#   <case>.meta.json    R, lavaan and semTools versions and the options
#
# Conventions: lavaan sem() defaults, likelihood = "normal" (covariance divided by N),
# information = "expected", marker-variable scaling. compRelSEM/AVE with obs.var = TRUE take
# the denominator from the sample covariance (lavInspect "sampstat", divided by N); the
# numerator from the unstandardized loadings and the model-implied latent covariance (cov.lv).
suppressPackageStartupMessages({library(lavaan); library(semTools)})

out <- file.path("tests", "reference", "semtools")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
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
mat_csv <- function(m, name) {
  m <- unclass(m)
  wcsv(data.frame(construct = rownames(m), m, check.names = FALSE), name)
}

hs <- lavaan::HolzingerSwineford1939[, paste0("x", 1:9)]
wcsv(hs, "HolzingerSwineford1939.csv")
surv <- "data/synthetic/integrative_n300_seed1.csv"

versions <- list(r_version = R.version.string,
                 lavaan_version = as.character(packageVersion("lavaan")),
                 semtools_version = as.character(packageVersion("semTools")))

# --- defined parameters (':=') and equality constraints -------------------------------
for (cs in list(list(case = "integrative_labelled", model = file.path(out, "integrative_labelled.lav")),
                list(case = "integrative_equal", model = file.path(out, "integrative_equal.lav")))) {
  dat <- read.csv(surv)
  fit <- sem(read_model(cs$model), data = dat, likelihood = "normal")
  pe <- parameterEstimates(fit)
  ss <- standardizedSolution(fit, type = "std.all")
  lab <- pe$label != ""
  def <- data.frame(name = ifelse(pe$op == ":=", pe$lhs, pe$label)[lab],
                    op = pe$op[lab], est = pe$est[lab], se = pe$se[lab],
                    est_std = ss$est.std[lab], se_std = ss$se[lab])
  wcsv(def, paste0(cs$case, ".defined.csv"))
  wcsv(pe[pe$op != ":=", c("lhs", "op", "rhs", "label", "est", "se")], paste0(cs$case, ".params.csv"))
  wjson(c(list(case = cs$case, model = cs$model, data = surv,
               call = 'sem(model, data, likelihood = "normal"); parameterEstimates(); standardizedSolution(type = "std.all")',
               information = lavInspect(fit, "options")$information[1], n = nobs(fit)), versions),
        paste0(cs$case, ".meta.json"))
}

# --- measurement quality --------------------------------------------------------------
for (cs in list(list(case = "integrative", model = "models/integrative.lav", data = surv),
                list(case = "hs", model = file.path(out, "hs.lav"),
                     data = file.path(out, "HolzingerSwineford1939.csv")))) {
  dat <- read.csv(cs$data)
  mod <- read_model(cs$model)
  fit <- sem(mod, data = dat, likelihood = "normal")
  omega <- compRelSEM(fit)                 # obs.var = TRUE, tau.eq = FALSE
  alpha <- compRelSEM(fit, tau.eq = TRUE)  # coefficient alpha from the sample covariance
  ave <- AVE(fit)                          # obs.var = TRUE
  wcsv(data.frame(construct = names(omega), alpha = as.numeric(alpha[names(omega)]),
                  omega = as.numeric(omega), ave = as.numeric(ave[names(omega)])),
       paste0(cs$case, ".quality.csv"))
  ss <- standardizedSolution(fit, type = "std.all")
  ld <- ss[ss$op == "=~", c("lhs", "rhs", "est.std", "se")]
  wcsv(ld, paste0(cs$case, ".loadings.csv"))
  mat_csv(lavInspect(fit, "cor.lv"), paste0(cs$case, ".corlv.csv"))
  mat_csv(lavInspect(fit, "cov.lv"), paste0(cs$case, ".covlv.csv"))
  pe <- parameterEstimates(fit)
  wcsv(pe[pe$op == "=~", c("lhs", "op", "rhs", "est")], paste0(cs$case, ".lambda.csv"))
  mat_csv(htmt(mod, dat, htmt2 = FALSE), paste0(cs$case, ".htmt.csv"))
  mat_csv(htmt(mod, dat, htmt2 = TRUE), paste0(cs$case, ".htmt2.csv"))
  wjson(c(list(case = cs$case, model = cs$model, data = cs$data,
               call = paste('sem(model, data, likelihood = "normal"); compRelSEM(fit); compRelSEM(fit, tau.eq = TRUE);',
                            'AVE(fit); htmt(model, data, htmt2 = FALSE); htmt(model, data, htmt2 = TRUE)'),
               n = nobs(fit)), versions),
        paste0(cs$case, ".meta.json"))
}
cat("wrote", out, "\n")
