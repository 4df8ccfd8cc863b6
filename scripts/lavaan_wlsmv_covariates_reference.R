# Reference values for ordinal models with observed exogenous covariates (lavaan's conditional.x = TRUE):
# smsem.estimate.categorical.conditional. Run from the repository root:
#   Rscript scripts/lavaan_wlsmv_covariates_reference.R [CASE ...]
# Writes tests/reference/lavaan_condx/: the data (hs_cov.csv: HolzingerSwineford1939 cut into 4 categories
# as hs_cut4.csv, with sex, female = sex - 1, ageyr, agemo, x6n, x9n: x6 and x9 uncut, b1-b4: x1-x4 > 2; bfi_cov.csv: psych::bfi's A and C items with
# age and gender), and per case <case>_partable.csv, <case>_fit.csv, <case>_wls_obs.csv (lavInspect "wls.obs"),
# <case>_gamma.csv (lavInspect "gamma"), <case>_sampstat.csv (res.th / res.slopes / res.cov), <case>.meta.json.
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_condx"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
hs0 <- HolzingerSwineford1939
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
stopifnot(max(abs(read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")$age - (hs0$ageyr + hs0$agemo / 12))) < 1e-9)
hs$sex <- hs0$sex
hs$female <- hs0$sex - 1L
hs$ageyr <- hs0$ageyr
hs$agemo <- hs0$agemo
hs$x6n <- hs0$x6  # continuous (uncut) versions of x6 and x9 for the mixed cases
hs$x9n <- hs0$x9
for (k in 1:4) hs[[paste0("b", k)]] <- as.integer(hs[[paste0("x", k)]] > 2)  # binary items: x1-x4 split at 2
write.csv(hs, file.path(out, "hs_cov.csv"), row.names = FALSE)
suppressMessages(library(psych))
bfi <- psych::bfi[c(paste0("A", 1:5), paste0("C", 1:5), "age", "gender")]
bfi <- bfi[complete.cases(bfi), ]
write.csv(bfi, file.path(out, "bfi_cov.csv"), row.names = FALSE)
hs3 <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
ords <- paste0("x", 1:9)
cases <- list(
  # (a) three factors, two regressed on covariates (sex 1/2, age in years)
  hs_cov = list(model = paste(hs3, "\n visual ~ sex + ageyr\n textual ~ ageyr"), data = hs, ordered = ords,
                modindices = TRUE),
  # (b) one factor on a 0/1 dummy
  hs_dummy = list(model = "visual =~ x1 + x2 + x3 + x4\n visual ~ female", data = hs, ordered = ords,
                  modindices = TRUE),
  # (c) an ordinal item regressed directly on a covariate (a direct effect), labels and :=
  hs_direct = list(model = paste("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual ~ a*ageyr\n",
                                 "textual ~ b*visual + ageyr\n x2 ~ female\n ind := a*b"), data = hs, ordered = ords),
  # (c) in the theta parameterization
  hs_direct_theta = list(model = paste("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n visual ~ a*ageyr\n",
                                       "textual ~ b*visual + ageyr\n x2 ~ female\n ind := a*b"), data = hs,
                         ordered = ords, parameterization = "theta"),
  # theta parameterization of (a)
  hs_cov_theta = list(model = paste(hs3, "\n visual ~ sex + ageyr\n textual ~ ageyr"), data = hs, ordered = ords,
                      parameterization = "theta", modindices = TRUE),
  # ULSMV and DWLS of (a)
  hs_cov_ulsmv = list(model = paste(hs3, "\n visual ~ sex + ageyr\n textual ~ ageyr"), data = hs, ordered = ords,
                      estimator = "ULSMV"),
  hs_cov_dwls = list(model = paste(hs3, "\n visual ~ sex + ageyr\n textual ~ ageyr"), data = hs, ordered = ords,
                     estimator = "DWLS"),
  # continuous endogenous indicators (x6n, x9n uncut) next to ordinal items, with covariates
  hs_mixed_cov = list(model = paste("visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6n\n speed =~ x7 + x8 + x9n\n",
                                    "visual ~ sex + ageyr\n textual ~ ageyr"), data = hs,
                      ordered = c(paste0("x", 1:5), "x7", "x8")),
  # a continuous outcome regressed on a factor and a dummy
  hs_mixed_outcome = list(model = "visual =~ x1 + x2 + x3\n visual ~ ageyr\n x9n ~ visual + female", data = hs,
                          ordered = paste0("x", 1:3)),
  # std.lv = TRUE (the latent residual variances fixed at 1) and a residual covariance of two items
  hs_cov_stdlv = list(model = paste(hs3, "\n visual ~ sex + ageyr\n textual ~ ageyr\n x1 ~~ x4"), data = hs,
                      ordered = ords, std.lv = TRUE),
  # binary items (probit regressions with one threshold) on a dummy and a continuous covariate
  hs_binary = list(model = "F =~ b1 + b2 + b3 + b4\n F ~ female + ageyr", data = hs, ordered = paste0("b", 1:4)),
  # no latent variable: two ordinal items regressed on covariates (probit regressions, their residual correlation free)
  hs_probit = list(model = "x1 ~ female + ageyr\n x2 ~ female", data = hs, ordered = c("x1", "x2")),
  # (d) psych::bfi: agreeableness and conscientiousness (six-point items) on age and gender
  bfi_cov = list(model = "Af =~ A1 + A2 + A3 + A4 + A5\n Cf =~ C1 + C2 + C3 + C4 + C5\n Af + Cf ~ age + gender",
                 data = bfi, ordered = c(paste0("A", 1:5), paste0("C", 1:5)))
)
only <- commandArgs(trailingOnly = TRUE)
if (length(only)) cases <- cases[only]
for (nm in names(cases)) {
  cs <- cases[[nm]]
  est <- if (is.null(cs$estimator)) "WLSMV" else cs$estimator
  param <- if (is.null(cs$parameterization)) "delta" else cs$parameterization
  t0 <- proc.time()[["elapsed"]]
  fit <- sem(cs$model, data = cs$data, ordered = cs$ordered, estimator = est, parameterization = param,
             std.lv = isTRUE(cs$std.lv))
  secs <- proc.time()[["elapsed"]] - t0
  stopifnot(lavInspect(fit, "options")$conditional.x)
  pt <- parTable(fit)
  pe <- parameterEstimates(fit, remove.nonfree = FALSE, remove.eq = FALSE, remove.ineq = FALSE,
                           remove.def = FALSE, remove.system.eq = FALSE, standardized = TRUE, rsquare = FALSE)
  key <- paste(pe$lhs, pe$op, pe$rhs)
  k <- match(paste(pt$lhs, pt$op, pt$rhs), key)
  pt$z <- pe$z[k]
  pt$std.lv <- pe$std.lv[k]
  pt$std.all <- pe$std.all[k]
  pt$std.nox <- pe$std.nox[k]
  ss <- standardizedSolution(fit, type = "std.all", remove.eq = FALSE, remove.ineq = FALSE, remove.def = FALSE)
  pt$std.all.se <- ss$se[match(paste(pt$lhs, pt$op, pt$rhs), paste(ss$lhs, ss$op, ss$rhs))]
  write.csv(pt, file.path(out, paste0(nm, "_partable.csv")), row.names = FALSE)
  r2 <- lavInspect(fit, "rsquare")
  write.csv(data.frame(var = names(r2), r2 = formatC(as.numeric(r2), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_r2.csv")), row.names = FALSE)
  fm <- fitMeasures(fit)
  write.csv(data.frame(measure = names(fm), value = formatC(as.numeric(fm), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_fit.csv")), row.names = FALSE)
  write.csv(data.frame(value = formatC(lavInspect(fit, "wls.obs"), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_wls_obs.csv")), row.names = FALSE)
  g <- lavInspect(fit, "gamma")
  write.csv(formatC(unclass(g), digits = 17, format = "g"), file.path(out, paste0(nm, "_gamma.csv")), row.names = FALSE)
  st <- lavInspect(fit, "sampstat")
  rows <- list()
  for (v in rownames(st$res.slopes)) for (x in colnames(st$res.slopes))
    rows[[length(rows) + 1]] <- data.frame(what = "res.slopes", lhs = v, rhs = x, value = st$res.slopes[v, x])
  for (nmth in names(st$res.th)) rows[[length(rows) + 1]] <- data.frame(what = "res.th", lhs = nmth, rhs = "",
                                                                       value = st$res.th[[nmth]])
  rc <- st$res.cov
  for (i in seq_len(nrow(rc))) for (j in seq_len(i))
    rows[[length(rows) + 1]] <- data.frame(what = "res.cov", lhs = rownames(rc)[i], rhs = colnames(rc)[j], value = rc[i, j])
  sdf <- do.call(rbind, rows)
  sdf$value <- formatC(sdf$value, digits = 17, format = "g")
  write.csv(sdf, file.path(out, paste0(nm, "_sampstat.csv")), row.names = FALSE)
  if (isTRUE(cs$modindices)) {  # lavaan's modindices(fit) (strict.exo candidates with conditional.x)
    mi <- modindices(fit)
    mi <- data.frame(lhs = mi$lhs, op = mi$op, rhs = mi$rhs,
                     mi = formatC(mi$mi, digits = 17, format = "g"), epc = formatC(mi$epc, digits = 17, format = "g"),
                     sepc.lv = formatC(mi$sepc.lv, digits = 17, format = "g"),
                     sepc.all = formatC(mi$sepc.all, digits = 17, format = "g"),
                     sepc.nox = formatC(mi$sepc.nox, digits = 17, format = "g"))
    write.csv(mi, file.path(out, paste0(nm, "_modindices.csv")), row.names = FALSE)
  }
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "estimator": "%s", "parameterization": "%s", "std_lv": %s, "nobs": %d, "seconds": %.3f, "ordered": [%s]}',
                     nm, packageVersion("lavaan"), est, param, tolower(isTRUE(cs$std.lv)), lavInspect(fit, "nobs"), secs,
                     paste0('"', cs$ordered, '"', collapse = ", ")), file.path(out, paste0(nm, ".meta.json")))
  cat(nm, "done", secs, "s\n")
}
