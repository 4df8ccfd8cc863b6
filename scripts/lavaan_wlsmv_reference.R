# Reference values for smsem.estimate.categorical.fit (WLSMV / DWLS / ULSMV, delta parameterization).
# Run from the repository root:  Rscript scripts/lavaan_wlsmv_reference.R
# Writes tests/reference/lavaan_wlsmv/<case>_partable.csv, <case>_fit.csv, <case>.meta.json.
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_wlsmv"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
integ <- read.csv("data/synthetic/integrative_n300_seed1.csv")
integ_model <- paste(readLines("models/integrative.lav"), collapse = "\n")
bfi <- read.csv("tests/reference/lavaan_ordinal/bfi25.csv")
bfi_model <- paste0(c("A", "C", "E", "N", "O"), "f =~ ", sapply(c("A", "C", "E", "N", "O"),
                    function(k) paste0(k, 1:5, collapse = " + ")), collapse = "\n")
cases <- list(
  hs_wlsmv = list(model = hs_model, data = hs, estimator = "WLSMV"),
  hs_ulsmv = list(model = hs_model, data = hs, estimator = "ULSMV"),
  hs_dwls = list(model = hs_model, data = hs, estimator = "DWLS"),
  hs_wls = list(model = hs_model, data = hs, estimator = "WLS"),
  hs_uls = list(model = hs_model, data = hs, estimator = "ULS"),
  integrative_wlsmv = list(model = integ_model, data = integ, estimator = "WLSMV"),
  hs_theta = list(model = hs_model, data = hs, estimator = "WLSMV", parameterization = "theta"),
  integrative_theta = list(model = integ_model, data = integ, estimator = "WLSMV", parameterization = "theta"),
  # std.lv = TRUE and a residual covariance between two items
  hs_stdlv_rescov = list(model = paste(hs_model, "\n x1 ~~ x4"), data = hs, estimator = "WLSMV", std.lv = TRUE),
  # labels and a defined parameter (an indirect effect)
  hs_defined = list(model = paste(hs_model, "\n textual ~ a*visual\n speed ~ b*textual + visual\n ind := a*b"),
                    data = hs, estimator = "WLSMV"),
  bfi_pairwise = list(model = bfi_model, data = bfi, estimator = "WLSMV", missing = "pairwise"),
  # the integrative model with labelled paths and := rows spelling out the effects of smsem.effects()
  # (specific indirect chains, total indirect, total): tests/test_ordinal_effects.py
  integrative_effects = list(model = paste(
    sub("IS ~ COM \\+ MA", "IS ~ a1*COM + a2*MA", sub("SL ~ COM \\+ MA", "SL ~ a3*COM + a4*MA",
    sub("IC ~ IS \\+ SL \\+ COM \\+ MA", "IC ~ b1*IS + b2*SL + c1*COM + c2*MA",
    sub("EA ~ IC \\+ COM \\+ MA", "EA ~ d*IC + e1*COM + e2*MA", sub("OP ~ EA", "OP ~ f*EA", integ_model))))),
    "ind_is_op := b1*d*f",
    "ind_com_is_op := a1*b1*d*f",
    "tind_com_op := a1*b1*d*f + a3*b2*d*f + c1*d*f + e1*f",
    "tind_com_ea := a1*b1*d + a3*b2*d + c1*d",
    "tot_com_ea := e1 + a1*b1*d + a3*b2*d + c1*d",
    "tind_ma_ic := a2*b1 + a4*b2",
    sep = "\n"), data = integ, estimator = "WLSMV"),
  # effects in the theta parameterization: a chain and a total effect as := rows
  hs_theta_effects = list(model = paste(hs_model, "\n textual ~ a*visual\n speed ~ b*textual + c*visual",
                                        "\n ind := a*b\n tot := c + a*b"),
                          data = hs, estimator = "WLSMV", parameterization = "theta")
)
# Rscript scripts/lavaan_wlsmv_reference.R CASE ...: only those cases
only <- commandArgs(trailingOnly = TRUE)
if (length(only)) cases <- cases[only]
for (nm in names(cases)) {
  cs <- cases[[nm]]
  t0 <- proc.time()[["elapsed"]]
  missing <- if (is.null(cs$missing)) "listwise" else cs$missing
  param <- if (is.null(cs$parameterization)) "delta" else cs$parameterization
  fit <- sem(cs$model, data = cs$data, ordered = TRUE, estimator = cs$estimator, missing = missing,
             parameterization = param, std.lv = isTRUE(cs$std.lv))
  secs <- proc.time()[["elapsed"]] - t0
  pt <- parTable(fit)
  pe <- parameterEstimates(fit, remove.nonfree = FALSE, remove.eq = FALSE, remove.ineq = FALSE,
                           remove.def = FALSE, remove.system.eq = FALSE, standardized = TRUE)
  pt$std.all <- NA
  key <- paste(pe$lhs, pe$op, pe$rhs)
  pt$std.all <- pe$std.all[match(paste(pt$lhs, pt$op, pt$rhs), key)]
  pt$z <- pe$z[match(paste(pt$lhs, pt$op, pt$rhs), key)]
  for (type in c("std.all", "std.lv")) {  # standardizedSolution() SEs (delta method)
    ss <- standardizedSolution(fit, type = type, remove.eq = FALSE, remove.ineq = FALSE, remove.def = FALSE)
    pt[[paste0(type, ".se")]] <- ss$se[match(paste(pt$lhs, pt$op, pt$rhs), paste(ss$lhs, ss$op, ss$rhs))]
  }
  write.csv(pt, file.path(out, paste0(nm, "_partable.csv")), row.names = FALSE)
  fm <- fitMeasures(fit)
  write.csv(data.frame(measure = names(fm), value = formatC(as.numeric(fm), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_fit.csv")), row.names = FALSE)
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "estimator": "%s", "missing": "%s", "parameterization": "%s", "std_lv": %s, "nobs": %d, "seconds": %.3f}',
                     nm, packageVersion("lavaan"), cs$estimator, missing, param, tolower(isTRUE(cs$std.lv)), lavInspect(fit, "nobs"), secs), file.path(out, paste0(nm, ".meta.json")))
}
