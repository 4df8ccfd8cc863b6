# Reference values for the group-differences block of ordinal multiple-group fits
# (smsem.estimate.categorical.group_props): a path labelled c(a1, a2)* with diff := a2 - a1,
# fitted by lavaan 0.6.14 with ordered = TRUE, group = "school" (WLSMV, delta), so the
# difference's estimate, SE (delta method on the robust vcov) and z are lavaan's.
# Run from the repository root:  Rscript scripts/lavaan_wlsmv_group_diffs_reference.R
suppressMessages(library(lavaan))
out <- "tests/reference/lavaan_wlsmv_group_diffs"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
hs <- read.csv("tests/reference/lavaan_wlsmv_groups/hs_cut4_school.csv")
base <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n"
cases <- list(
  configural = list(ge = ""),
  thr_load = list(ge = c("thresholds", "loadings")),
  thr_load_ulsmv = list(ge = c("thresholds", "loadings"), estimator = "ULSMV"))
for (nm in names(cases)) {
  cs <- cases[[nm]]
  est <- if (is.null(cs$estimator)) "WLSMV" else cs$estimator
  model <- paste0(base, " textual ~ c(a1, a2)*visual\n speed ~ c(b1, b2)*textual + c(c1, c2)*visual\n",
                  " d_a := a2 - a1\n d_b := b2 - b1\n d_c := c2 - c1\n")
  fit <- cfa(model, data = hs, ordered = TRUE, group = "school", estimator = est, group.equal = cs$ge)
  pe <- parameterEstimates(fit)
  pe <- pe[pe$op %in% c("~", ":="), c("lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue")]
  write.csv(pe, file.path(out, paste0("hs_", nm, "_diffs.csv")), row.names = FALSE)
  writeLines(sprintf('{"estimator": "%s", "group_equal": [%s], "lavaan": "%s"}', est,
                     if (all(cs$ge == "")) "" else paste0('"', cs$ge, '"', collapse = ", "),
                     as.character(packageVersion("lavaan"))), file.path(out, paste0("hs_", nm, ".meta.json")))
}
# lavTestScore(fit, cumulative = TRUE) of ordinal multiple-group fits (smsem.estimate.categorical.score_test):
# lavaan 0.6.14 falls back to the ordinary score test with robust SEs (its warning suppressed here)
for (nm in c("thr_load", "thr")) {
  ge <- if (nm == "thr_load") c("thresholds", "loadings") else "thresholds"
  fit <- cfa(base, data = hs, ordered = TRUE, group = "school", group.equal = ge)
  ts <- lavTestScore(fit, cumulative = TRUE, warn = FALSE)
  write.csv(as.data.frame(ts$test), file.path(out, paste0("hs_", nm, "_score_total.csv")), row.names = FALSE)
  write.csv(as.data.frame(ts$uni), file.path(out, paste0("hs_", nm, "_score_uni.csv")), row.names = FALSE)
  write.csv(as.data.frame(ts$cumulative), file.path(out, paste0("hs_", nm, "_score_cumulative.csv")),
            row.names = FALSE)
}
# the same on semTools' Wu & Estabrook thresholds and metric steps (ID.fac = "std.lv"; the syntax saved by
# scripts/lavaan_wlsmv_groups_reference.R), the partial-invariance search of smsem invariance --ordered --std-lv
for (st in c("thresholds", "loadings")) {
  syn <- paste(readLines(file.path("tests/reference/lavaan_wlsmv_groups", paste0("hs_we_", st, "_syntax.lav"))),
               collapse = "\n")
  fit <- cfa(syn, data = hs, ordered = TRUE, group = "school", parameterization = "delta")
  ts <- lavTestScore(fit, cumulative = TRUE, warn = FALSE)
  write.csv(as.data.frame(ts$test), file.path(out, paste0("hs_we_", st, "_score_total.csv")), row.names = FALSE)
  write.csv(as.data.frame(ts$uni), file.path(out, paste0("hs_we_", st, "_score_uni.csv")), row.names = FALSE)
}
# four groups (school x sex): lavaan's order of the == rows (by left-hand, then right-hand row)
hs4 <- hs
hs4$gs <- paste(hs4$school, HolzingerSwineford1939$sex, sep = "_")
write.csv(hs4, file.path(out, "hs_cut4_school_sex.csv"), row.names = FALSE)
fit <- cfa(base, data = hs4, ordered = TRUE, group = "gs", group.equal = c("thresholds", "loadings"))
ts <- lavTestScore(fit, cumulative = TRUE, warn = FALSE)
write.csv(as.data.frame(ts$test), file.path(out, "hs4_thr_load_score_total.csv"), row.names = FALSE)
write.csv(as.data.frame(ts$uni), file.path(out, "hs4_thr_load_score_uni.csv"), row.names = FALSE)
write.csv(as.data.frame(ts$cumulative), file.path(out, "hs4_thr_load_score_cumulative.csv"), row.names = FALSE)
