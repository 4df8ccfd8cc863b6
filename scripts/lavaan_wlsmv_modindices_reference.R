# Reference values for smsem's modification indices of ordinal fits (smsem.estimate.categorical.modindices).
# Run from the repository root:  Rscript scripts/lavaan_wlsmv_modindices_reference.R
# Writes tests/reference/lavaan_wlsmv/<case>_modindices.csv: lavaan 0.6.14's modindices(fit) (expected
# information: Delta' W Delta of the WLS discrepancy with the fit's weight matrix) with 17 digits, and
# <case>_modindices.meta.json with the time of the modindices() call.
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_wlsmv"
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
integ <- read.csv("data/synthetic/integrative_n300_seed1.csv")
integ_model <- paste(readLines("models/integrative.lav"), collapse = "\n")
cases <- list(
  hs_wlsmv = list(model = hs_model, data = hs, estimator = "WLSMV"),
  hs_ulsmv = list(model = hs_model, data = hs, estimator = "ULSMV"),
  hs_wls = list(model = hs_model, data = hs, estimator = "WLS"),
  hs_stdlv_rescov = list(model = paste(hs_model, "\n x1 ~~ x4"), data = hs, estimator = "WLSMV", std.lv = TRUE),
  hs_defined = list(model = paste(hs_model, "\n textual ~ a*visual\n speed ~ b*textual + visual\n ind := a*b"),
                    data = hs, estimator = "WLSMV"),
  integrative_wlsmv = list(model = integ_model, data = integ, estimator = "WLSMV"),
  # the theta parameterization (residual variances of the items fixed at 1)
  hs_theta = list(model = hs_model, data = hs, estimator = "WLSMV", parameterization = "theta"),
  hs_defined_theta = list(model = paste(hs_model, "\n textual ~ a*visual\n speed ~ b*textual + visual\n ind := a*b"),
                          data = hs, estimator = "WLSMV", parameterization = "theta")
)
# Rscript scripts/lavaan_wlsmv_modindices_reference.R CASE ...: only those cases
only <- commandArgs(trailingOnly = TRUE)
if (length(only)) cases <- cases[only]
for (nm in names(cases)) {
  cs <- cases[[nm]]
  param <- if (is.null(cs$parameterization)) "delta" else cs$parameterization
  fit <- sem(cs$model, data = cs$data, ordered = TRUE, estimator = cs$estimator, std.lv = isTRUE(cs$std.lv),
             parameterization = param)
  t0 <- proc.time()[["elapsed"]]
  mi <- modindices(fit)
  secs <- proc.time()[["elapsed"]] - t0
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "modindices_seconds": %.3f}', nm, packageVersion("lavaan"), secs),
             file.path(out, paste0(nm, "_modindices.meta.json")))
  mi <- data.frame(lhs = mi$lhs, op = mi$op, rhs = mi$rhs,
                   mi = formatC(mi$mi, digits = 17, format = "g"), epc = formatC(mi$epc, digits = 17, format = "g"),
                   sepc.lv = formatC(mi$sepc.lv, digits = 17, format = "g"),
                   sepc.all = formatC(mi$sepc.all, digits = 17, format = "g"),
                   sepc.nox = formatC(mi$sepc.nox, digits = 17, format = "g"))
  write.csv(mi, file.path(out, paste0(nm, "_modindices.csv")), row.names = FALSE)
}
