# lavaan's modindices() of multiple-group fits, for `smsem fit --group ... --modindices` (issue 14).
#
#   Rscript scripts/lavaan_groups_modindices_reference.R      (from the repository root)
#
# For each case writes tests/reference/lavaan_groups/<case>.modindices.csv: modindices(fit,
# sort. = FALSE) (lavaan's defaults otherwise: information = "expected", cov.std = TRUE,
# free.remove = TRUE, na.remove = TRUE): lhs op rhs block group mi epc sepc.lv sepc.all sepc.nox,
# in lavaan's row order. The model syntax and the call are those of lavaan_groups_reference.R
# (<case>.lav, <case>.meta.json); the "_mlr" case is mg_scalar fitted with estimator = "MLR"
# (lavaan's modindices use the expected information whatever the estimator).
# Data: HolzingerSwineford1939 by school (tests/reference/lavaan_models/HolzingerSwineford1939.csv).
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_groups")
hs <- read.csv(file.path("tests", "reference", "lavaan_models", "HolzingerSwineford1939.csv"))
cases <- list(
  list(case = "mg_configural", ge = character(0)),
  list(case = "mg_metric", ge = "loadings"),
  list(case = "mg_scalar", ge = c("loadings", "intercepts")),
  list(case = "mg_partial", ge = c("loadings", "intercepts"), gp = c("visual=~x3", "x1~1")),
  list(case = "mg_metric_stdlv", ge = "loadings", std.lv = TRUE),
  list(case = "mg_structural",
       ge = c("loadings", "intercepts", "regressions", "lv.variances", "lv.covariances", "residual.covariances")),
  list(case = "mg_scalar", ge = c("loadings", "intercepts"), estimator = "MLR", suffix = "_mlr")
)
for (cs in cases) {
  model <- paste(readLines(file.path(out, paste0(cs$case, ".lav"))), collapse = "\n")
  ge <- if (length(cs$ge)) cs$ge else ""
  gp <- if (length(cs$gp)) cs$gp else ""
  est <- if (is.null(cs$estimator)) "ML" else cs$estimator
  fit <- suppressWarnings(cfa(model, data = hs, group = "school", group.equal = ge, group.partial = gp,
                              std.lv = isTRUE(cs$std.lv), estimator = est))
  mi <- modindices(fit, sort. = FALSE)
  name <- paste0(cs$case, if (is.null(cs$suffix)) "" else cs$suffix)
  write.csv(as.data.frame(mi)[, c("lhs", "op", "rhs", "block", "group", "mi", "epc", "sepc.lv", "sepc.all",
                                  "sepc.nox")],
            file.path(out, paste0(name, ".modindices.csv")), row.names = FALSE, na = "")
  cat("wrote", name, nrow(mi), "rows\n")
}

# FIML (missing = "ml") on hs_missing.csv (HS by school with ~10% MCAR holes, made by
# scripts/lavaan_groups_robust_reference.R): <case>.modindices.csv in tests/reference/lavaan_groups_robust/.
rob <- file.path("tests", "reference", "lavaan_groups_robust")
hm <- read.csv(file.path(rob, "hs_missing.csv"))
for (cs in list(list(case = "fiml_configural", ge = character(0)), list(case = "fiml_metric", ge = "loadings"),
                list(case = "fiml_scalar", ge = c("loadings", "intercepts")))) {
  model <- paste(readLines(file.path(rob, "hs3.lav")), collapse = "\n")
  ge <- if (length(cs$ge)) cs$ge else ""
  fit <- suppressWarnings(cfa(model, data = hm, group = "school", group.equal = ge, missing = "ml"))
  mi <- modindices(fit, sort. = FALSE)
  write.csv(as.data.frame(mi)[, c("lhs", "op", "rhs", "block", "group", "mi", "epc", "sepc.lv", "sepc.all",
                                  "sepc.nox")],
            file.path(rob, paste0(cs$case, ".modindices.csv")), row.names = FALSE, na = "")
  pt <- parTable(fit)[, c("id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo",
                          "label", "plabel", "est", "se")]
  write.csv(pt, file.path(rob, paste0(cs$case, ".mi_partable.csv")), row.names = FALSE, na = "")
  cat("wrote", cs$case, nrow(mi), "rows\n")
}
