# Reference values for smsem's modification indices of multiple-group ordinal fits
# (smsem.estimate.categorical.group_modindices). Run from the repository root:
#   Rscript scripts/lavaan_wlsmv_groups_modindices_reference.R
# Writes tests/reference/lavaan_wlsmv_groups/<case>.modindices.csv: lavaan 0.6.14's
# modindices(fit, sort. = FALSE) (lavaan's row order, NA rows removed) with 17 digits, and
# <case>.modindices.meta.json with the time of the modindices() call.
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_wlsmv_groups"
hs <- read.csv(file.path(out, "hs_cut4_school.csv"))
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
cases <- list(
  hs_configural = list(ge = ""),
  hs_thresholds = list(ge = "thresholds"),
  hs_thr_load = list(ge = c("thresholds", "loadings")),
  hs_partial = list(ge = c("thresholds", "loadings"), gp = c("x3|t2", "visual=~x2")),
  hs_stdlv_thr_load = list(ge = c("thresholds", "loadings"), std.lv = TRUE),
  hs_structural = list(model = paste(hs_model, "\n textual ~ visual\n speed ~ textual + visual"),
                       ge = c("thresholds", "loadings")),
  hs_labels = list(model = sub("x2", "c(a, a)*x2", hs_model), ge = "loadings"),
  hs_ulsmv = list(ge = "thresholds", estimator = "ULSMV"),
  # theta: lavaan's analytic Jacobian also differentiates the ~*~ scales (which the theta
  # parameterization overwrites with 1/sd(y*)), so they get finite indices
  hs_theta_configural = list(ge = "", param = "theta"),
  hs_theta_thr_load = list(ge = c("thresholds", "loadings"), param = "theta"),
  # missing = "pairwise" on the HS data with missing answers
  hs_pairwise = list(ge = c("thresholds", "loadings"), data = "hs_cut4_school_na.csv", missing = "pairwise")
)
# Rscript scripts/lavaan_wlsmv_groups_modindices_reference.R CASE ...: only those cases
only <- commandArgs(trailingOnly = TRUE)
if (length(only)) cases <- cases[only]
for (nm in names(cases)) {
  cs <- cases[[nm]]
  model <- if (is.null(cs$model)) hs_model else cs$model
  gp <- if (is.null(cs$gp)) "" else cs$gp
  est <- if (is.null(cs$estimator)) "WLSMV" else cs$estimator
  dat <- if (is.null(cs$data)) hs else read.csv(file.path(out, cs$data))
  fit <- sem(model, data = dat, ordered = TRUE, group = "school", group.equal = cs$ge, group.partial = gp,
             std.lv = isTRUE(cs$std.lv), estimator = est,
             parameterization = if (is.null(cs$param)) "delta" else cs$param,
             missing = if (is.null(cs$missing)) "listwise" else cs$missing)
  t0 <- proc.time()[["elapsed"]]
  mi <- modindices(fit, sort. = FALSE)
  secs <- proc.time()[["elapsed"]] - t0
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "modindices_seconds": %.3f}', nm, packageVersion("lavaan"), secs),
             file.path(out, paste0(nm, ".modindices.meta.json")))
  f <- function(v) formatC(v, digits = 17, format = "g")
  mi <- data.frame(lhs = mi$lhs, op = mi$op, rhs = mi$rhs, group = mi$group, mi = f(mi$mi), epc = f(mi$epc),
                   sepc.lv = f(mi$sepc.lv), sepc.all = f(mi$sepc.all), sepc.nox = f(mi$sepc.nox))
  write.csv(mi, file.path(out, paste0(nm, ".modindices.csv")), row.names = FALSE)
}
