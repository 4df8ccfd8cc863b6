# Reference values for ordinal models with continuous observed variables (polyserial / Pearson
# covariances; lavaan 0.6.14, delta parameterization), the cases of tests/test_ordinal_mixed.py.
# Run from the repository root:  Rscript scripts/lavaan_wlsmv_mixed_reference.R
# Writes tests/reference/lavaan_wlsmv/<case>_partable.csv, <case>_fit.csv, <case>.meta.json in the
# format of scripts/lavaan_wlsmv_reference.R, and the data hs_mixed_data.csv (HS cut into 4
# categories, x9 kept continuous).
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_wlsmv"
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
hs$x9 <- HolzingerSwineford1939$x9
hs$x6 <- HolzingerSwineford1939$x6
write.csv(hs, file.path(out, "hs_mixed_data.csv"), row.names = FALSE)
hs_na <- hs  # 20 missing answers of x2 (ordinal) and 20 of x9 (continuous), for missing = "pairwise"
set.seed(1); hs_na$x9[sample(301, 20)] <- NA; hs_na$x2[sample(301, 20)] <- NA
write.csv(hs_na, file.path(out, "hs_mixed_na_data.csv"), row.names = FALSE, na = "")
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
ord <- paste0("x", c(1:5, 7:8))
cases <- list(
  hs_mixed = list(model = hs_model, estimator = "WLSMV"),
  hs_mixed_paths = list(model = paste(hs_model, "\n textual ~ visual\n speed ~ textual\n x6 ~~ x9"), estimator = "WLSMV"),
  hs_mixed_ulsmv = list(model = hs_model, estimator = "ULSMV"),
  # full weight matrix: lavaan's baseline bounds the variance of x6 at 0
  hs_mixed_wls = list(model = hs_model, estimator = "WLS"),
  hs_mixed_pairwise = list(model = hs_model, estimator = "WLSMV", missing = "pairwise")
)
for (nm in names(cases)) {
  cs <- cases[[nm]]
  t0 <- proc.time()[["elapsed"]]
  missing <- if (is.null(cs$missing)) "listwise" else cs$missing
  dat <- if (missing == "pairwise") hs_na else hs
  fit <- sem(cs$model, data = dat, ordered = ord, estimator = cs$estimator, missing = missing)
  secs <- proc.time()[["elapsed"]] - t0
  pt <- parTable(fit)
  pe <- parameterEstimates(fit, remove.nonfree = FALSE, remove.eq = FALSE, remove.ineq = FALSE,
                           remove.def = FALSE, remove.system.eq = FALSE, standardized = TRUE)
  key <- paste(pe$lhs, pe$op, pe$rhs)
  pt$std.all <- pe$std.all[match(paste(pt$lhs, pt$op, pt$rhs), key)]
  pt$z <- pe$z[match(paste(pt$lhs, pt$op, pt$rhs), key)]
  for (type in c("std.all", "std.lv")) {
    ss <- standardizedSolution(fit, type = type, remove.eq = FALSE, remove.ineq = FALSE, remove.def = FALSE)
    pt[[paste0(type, ".se")]] <- ss$se[match(paste(pt$lhs, pt$op, pt$rhs), paste(ss$lhs, ss$op, ss$rhs))]
  }
  write.csv(pt, file.path(out, paste0(nm, "_partable.csv")), row.names = FALSE)
  fm <- fitMeasures(fit)
  write.csv(data.frame(measure = names(fm), value = formatC(as.numeric(fm), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_fit.csv")), row.names = FALSE)
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "estimator": "%s", "ordered": "%s", "missing": "%s", "nobs": %d, "seconds": %.3f}',
                     nm, packageVersion("lavaan"), cs$estimator, paste(ord, collapse = ","), missing, lavInspect(fit, "nobs"), secs),
             file.path(out, paste0(nm, ".meta.json")))
}
