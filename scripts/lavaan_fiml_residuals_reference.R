# lavaan references for the residuals of a FIML fit (tests/test_fiml_residuals.py):
# lavResiduals() of sem(..., missing = "ml"), where the "observed" moments are the EM (h1)
# estimates of the unrestricted means and covariances, the residuals have a mean part, and the
# standardized residuals use the observed h1 information under missing data (lavaan's defaults
# for missing = "ml": information = "observed", h1.information = "structured").
#
#   Rscript scripts/lavaan_fiml_residuals_reference.R        (from the repository root)
#
# Writes tests/reference/lavaan_fiml_after/<case>.resid.csv (long form: type, block, lhs, rhs,
# value, z; block "cov" or "mean") and <case>.resid_summary.csv (type, stat, cov, mean, total)
# for type raw, cor.bollen and cor.bentler.
# The fits use lavaan's option em.h1.tol = 1e-10, so that the reference h1 moments are the
# converged EM estimates (lavaan's default 1e-5 stops its EM at a parameter change of 1e-5);
# <case>.resid_default.csv is the same with lavaan's default tolerance (to measure how far that
# stops). (A tighter optimizer, control = list(rel.tol = 1e-12), makes nlminb report a false
# non-convergence; lavaan's default optimizer tolerance is kept.)
# Cases: integrative (models/integrative.lav on data/synthetic/integrative_n300_seed1_missing.csv)
# and hs_constraints (a three-factor CFA with an equality constraint, Holzinger-Swineford with
# ~10% MCAR cells; model tests/reference/lavaan_fiml_after/hs_constraints.lav), also with
# estimator = "MLR" (hs_constraints_mlr: the h1 ACOV is the sandwich with the first-order
# information, lavaan's se = "robust.huber.white").
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_fiml_after")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
long <- function(type, r) {
  v <- rownames(r$cov); rows <- list()
  for (j in seq_along(v)) for (i in j:length(v))
    rows[[length(rows) + 1]] <- data.frame(type = type, block = "cov", lhs = v[i], rhs = v[j],
                                           value = r$cov[i, j], z = r$cov.z[i, j])
  rows[[length(rows) + 1]] <- data.frame(type = type, block = "mean", lhs = v, rhs = "",
                                         value = as.numeric(r$mean), z = as.numeric(r$mean.z))
  do.call(rbind, rows)
}
cases <- list(
  integrative = list(model = paste(readLines("models/integrative.lav"), collapse = "\n"),
                     data = "data/synthetic/integrative_n300_seed1_missing.csv"),
  hs_constraints = list(model = paste(readLines("tests/reference/lavaan_fiml_after/hs_constraints.lav"), collapse = "\n"),
                        data = "tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv"),
  hs_constraints_mlr = list(model = paste(readLines("tests/reference/lavaan_fiml_after/hs_constraints.lav"),
                                          collapse = "\n"),
                            data = "tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv",
                            estimator = "MLR"))
for (case in names(cases)) {
  cs <- cases[[case]]
  d <- read.csv(cs$data)
  for (tight in c(TRUE, FALSE)) {
    est <- if (is.null(cs$estimator)) "ML" else cs$estimator
    fit <- if (tight) sem(cs$model, data = d, missing = "ml", estimator = est, em.h1.tol = 1e-10,
                          em.h1.iter.max = 100000L)
           else sem(cs$model, data = d, missing = "ml", estimator = est)
    stopifnot(lavInspect(fit, "options")$information[1] == "observed")
    tabs <- list(); sums <- list()
    for (type in c("raw", "cor.bollen", "cor.bentler")) {
      r <- lavResiduals(fit, type = type)
      tabs[[type]] <- long(type, r)
      s <- r$summary
      sums[[type]] <- data.frame(type = type, stat = rownames(s), cov = s[, "cov"], mean = s[, "mean"],
                                 total = s[, "total"])
    }
    suffix <- if (tight) "" else "_default"
    wcsv(do.call(rbind, tabs), paste0(case, ".resid", suffix, ".csv"))
    if (tight) wcsv(do.call(rbind, sums), paste0(case, ".resid_summary.csv"))
  }
}
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
