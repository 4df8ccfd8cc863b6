# Reference values for smsem.estimate.categorical.multigroup (multiple-group WLSMV, delta
# parameterization) and the ordinal invariance sequence (Wu & Estabrook 2016 via semTools).
# Run from the repository root:  Rscript scripts/lavaan_wlsmv_groups_reference.R [CASE ...]
# Writes tests/reference/lavaan_wlsmv_groups/: the data (hs_cut4_school.csv, bfi25_gender.csv),
# <case>_partable.csv, <case>_fit.csv, <case>.meta.json; <seq>_steps.csv, <seq>_lrt.csv,
# <seq>_<step>_syntax.lav for the invariance sequences.
suppressMessages({library(lavaan); library(semTools)})
out <- "tests/reference/lavaan_wlsmv_groups"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
hs$school <- as.character(HolzingerSwineford1939$school)
write.csv(hs, file.path(out, "hs_cut4_school.csv"), row.names = FALSE)
# three categories (two thresholds): Wu & Estabrook's smallest polytomous case
hs3 <- data.frame(lapply(HolzingerSwineford1939[paste0("x", 1:9)], function(x)
  cut(x, quantile(x, c(0, 1/3, 2/3, 1)), include.lowest = TRUE, labels = FALSE)))
hs3$school <- hs$school
write.csv(hs3, file.path(out, "hs_cut3_school.csv"), row.names = FALSE)
# missing answers (for missing = "pairwise"): x1 in every 15th row, x5 in every 17th from row 3
hs_na <- hs
hs_na$x1[seq(1, nrow(hs_na), by = 15)] <- NA
hs_na$x5[seq(3, nrow(hs_na), by = 17)] <- NA
write.csv(hs_na, file.path(out, "hs_cut4_school_na.csv"), row.names = FALSE, na = "")
bfi <- psych::bfi[, c(1:25, which(names(psych::bfi) == "gender"))]
bfi <- bfi[complete.cases(bfi), ]
bfi$gender <- ifelse(bfi$gender == 1, "male", "female")
write.csv(bfi, file.path(out, "bfi25_gender.csv"), row.names = FALSE)
bfi_model <- paste0(c("A", "C", "E", "N", "O"), "f =~ ", sapply(c("A", "C", "E", "N", "O"),
                    function(k) paste0(k, 1:5, collapse = " + ")), collapse = "\n")
cases <- list(
  hs_configural = list(model = hs_model, data = hs, group = "school", ge = character(0)),
  hs_thresholds = list(model = hs_model, data = hs, group = "school", ge = "thresholds"),
  hs_thr_load = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings")),
  hs_thr_load_int = list(model = hs_model, data = hs, group = "school",
                         ge = c("thresholds", "loadings", "intercepts")),
  hs_partial = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings"),
                    gp = c("x3|t2", "visual=~x2")),
  hs_stdlv_thr_load = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings"),
                           std.lv = TRUE),
  # residuals: a no-op in the delta parameterization; means: the latent means fixed again
  hs_residuals = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings", "residuals")),
  hs_means = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings", "intercepts", "means")),
  hs_lv_var = list(model = hs_model, data = hs, group = "school",
                   ge = c("thresholds", "loadings", "lv.variances", "lv.covariances")),
  # latent regressions: the latent intercepts of groups 2..G free under equal thresholds
  hs_structural = list(model = paste(hs_model, "\n textual ~ visual\n speed ~ textual + visual"), data = hs,
                       group = "school", ge = c("thresholds", "loadings")),
  # a shared label c(a, a)* and equal loadings without equal thresholds (nothing else freed)
  hs_labels = list(model = sub("x2", "c(a, a)*x2", hs_model), data = hs, group = "school", ge = "loadings"),
  # theta parameterization: equal thresholds free group 2's residual variances (not the scales);
  # equal residuals fix them at 1 again
  hs_theta_configural = list(model = hs_model, data = hs, group = "school", ge = character(0), param = "theta"),
  hs_theta_thr_load = list(model = hs_model, data = hs, group = "school", ge = c("thresholds", "loadings"),
                           param = "theta"),
  hs_theta_strict = list(model = hs_model, data = hs, group = "school",
                         ge = c("thresholds", "loadings", "intercepts", "residuals"), param = "theta"),
  hs_pairwise = list(model = hs_model, data = hs_na, group = "school", ge = c("thresholds", "loadings"),
                     missing = "pairwise"),
  hs_ulsmv = list(model = hs_model, data = hs, group = "school", ge = "thresholds", estimator = "ULSMV"),
  hs_dwls = list(model = hs_model, data = hs, group = "school", ge = character(0), estimator = "DWLS"),
  bfi_configural = list(model = bfi_model, data = bfi, group = "gender", ge = character(0)),
  bfi_thr_load = list(model = bfi_model, data = bfi, group = "gender", ge = c("thresholds", "loadings"))
)
seqs <- list(hs_we = list(model = hs_model, data = hs, group = "school"),
             hs3_we = list(model = hs_model, data = hs3, group = "school"),
             # theta: residual (strict) invariance can be tested
             hs_we_theta = list(model = hs_model, data = hs, group = "school", param = "theta"),
             # partial invariance: x2's loading released (group.partial) at every step
             hs_we_partial = list(model = hs_model, data = hs, group = "school", gp = "visual =~ x2"),
             bfi_we = list(model = bfi_model, data = bfi, group = "gender"))
only <- commandArgs(trailingOnly = TRUE)
if (length(only)) {
  cases <- cases[intersect(names(cases), only)]
  seqs <- seqs[intersect(names(seqs), only)]
}
jarr <- function(v) if (length(v)) paste0('"', v, '"', collapse = ", ") else ""
write_fit <- function(fit, nm, extra) {
  pt <- parTable(fit)
  pe <- parameterEstimates(fit, remove.nonfree = FALSE, remove.eq = FALSE, remove.ineq = FALSE,
                           remove.def = FALSE, remove.system.eq = FALSE, standardized = TRUE)
  key <- paste(pe$lhs, pe$op, pe$rhs, pe$group)
  k2 <- paste(pt$lhs, pt$op, pt$rhs, pt$group)
  pt$std.all <- pe$std.all[match(k2, key)]
  pt$z <- pe$z[match(k2, key)]
  write.csv(pt, file.path(out, paste0(nm, "_partable.csv")), row.names = FALSE)
  tst <- lavInspect(fit, "test")  # each group's contribution to the (scaled) statistic
  if (!is.null(tst$scaled.shifted))
    write.csv(data.frame(group = seq_along(tst$standard$stat.group),
                         chisq = formatC(tst$standard$stat.group, digits = 17, format = "g"),
                         chisq.scaled = formatC(tst$scaled.shifted$stat.group, digits = 17, format = "g")),
              file.path(out, paste0(nm, "_groups.csv")), row.names = FALSE)
  fm <- fitMeasures(fit)
  write.csv(data.frame(measure = names(fm), value = formatC(as.numeric(fm), digits = 17, format = "g")),
            file.path(out, paste0(nm, "_fit.csv")), row.names = FALSE)
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", %s, "nobs": [%s], "group_labels": ["%s"], "npar": %d, "df": %d}',
                     nm, packageVersion("lavaan"), extra, paste(lavInspect(fit, "nobs"), collapse = ", "),
                     paste(lavInspect(fit, "group.label"), collapse = '", "'), max(pt$free), as.integer(fm[["df"]])),
             file.path(out, paste0(nm, ".meta.json")))
}
for (nm in names(cases)) {
  cs <- cases[[nm]]
  est <- if (is.null(cs$estimator)) "WLSMV" else cs$estimator
  gp <- if (is.null(cs$gp)) character(0) else cs$gp
  t0 <- proc.time()[["elapsed"]]
  param <- if (is.null(cs$param)) "delta" else cs$param
  miss <- if (is.null(cs$missing)) "listwise" else cs$missing
  fit <- cfa(cs$model, data = cs$data, ordered = TRUE, group = cs$group, estimator = est, parameterization = param,
             missing = miss,
             group.equal = if (length(cs$ge)) cs$ge else "", group.partial = if (length(gp)) gp else "", std.lv = isTRUE(cs$std.lv))
  secs <- proc.time()[["elapsed"]] - t0
  write_fit(fit, nm, sprintf('"estimator": "%s", "group": "%s", "group_equal": [%s], "group_partial": [%s], "std_lv": %s, "parameterization": "%s", "missing": "%s", "seconds": %.3f',
                             est, cs$group, jarr(cs$ge), jarr(gp), tolower(isTRUE(cs$std.lv)), param, miss, secs))
}
# Wu & Estabrook (2016): configural -> thresholds -> + loadings -> + intercepts (delta parameterization;
# semTools refuses residual invariance in the delta parameterization). The sequence is not
# identified with marker loadings (ID.fac = "UL": semTools warns, lavaan's vcov is singular), so
# ID.fac = "std.lv" (semTools' default); the fits (chi2, df, indices, difference tests) are what compare.
steps <- list(configural = "configural", thresholds = "thresholds", loadings = c("thresholds", "loadings"),
              intercepts = c("thresholds", "loadings", "intercepts"))
for (sn in names(seqs)) {
  sq <- seqs[[sn]]
  ord <- setdiff(names(sq$data), sq$group)
  fits <- list()
  t0 <- proc.time()[["elapsed"]]
  param <- if (is.null(sq$param)) "delta" else sq$param
  sq_steps <- if (param == "theta") c(steps, list(residuals = c("thresholds", "loadings", "intercepts", "residuals"))) else steps
  for (st in names(sq_steps)) {
    syn <- measEq.syntax(sq$model, data = sq$data, ordered = ord, parameterization = param, ID.fac = "std.lv",
                         ID.cat = "Wu.Estabrook.2016", group = sq$group, group.equal = sq_steps[[st]],
                         group.partial = if (is.null(sq$gp)) "" else sq$gp)
    fits[[st]] <- cfa(as.character(syn), data = sq$data, ordered = ord, group = sq$group, estimator = "WLSMV",
                      parameterization = param)
    writeLines(as.character(syn), file.path(out, paste0(sn, "_", st, "_syntax.lav")))
  }
  lrts <- list()
  for (k in 2:length(fits)) lrts[[k - 1]] <- lavTestLRT(fits[[k - 1]], fits[[k]])
  secs <- proc.time()[["elapsed"]] - t0
  ms <- c("chisq", "df", "chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled",
          "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "srmr", "cfi", "tli", "rmsea")
  tab <- do.call(rbind, lapply(names(fits), function(st) {
    fm <- fitMeasures(fits[[st]], ms)
    data.frame(step = st, t(formatC(as.numeric(fm), digits = 17, format = "g")))
  }))
  names(tab) <- c("step", ms)
  write.csv(tab, file.path(out, paste0(sn, "_steps.csv")), row.names = FALSE)
  lr <- do.call(rbind, lapply(seq_along(lrts), function(k) {
    a <- lrts[[k]]
    data.frame(step = names(fits)[k + 1], versus = names(fits)[k], chisq_diff = formatC(a[2, "Chisq diff"], digits = 17, format = "g"),
               df_diff = a[2, "Df diff"], pvalue = formatC(a[2, "Pr(>Chisq)"], digits = 17, format = "g"),
               method = regmatches(attr(a, "head")[1], regexpr("satorra[.0-9]*", attr(a, "head")[1])))
  }))
  write.csv(lr, file.path(out, paste0(sn, "_lrt.csv")), row.names = FALSE)
  for (st in names(fits)) write_fit(fits[[st]], paste0(sn, "_", st), '"estimator": "WLSMV", "sequence": "Wu.Estabrook.2016"')
  writeLines(sprintf('{"sequence": "%s", "lavaan": "%s", "semTools": "%s", "seconds_fit_and_lrt": %.3f}', sn,
                     packageVersion("lavaan"), packageVersion("semTools"), secs), file.path(out, paste0(sn, ".meta.json")))
}
