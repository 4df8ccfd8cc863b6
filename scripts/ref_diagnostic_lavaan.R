# lavaan reference values for smsem's diagnostic link to the integrative model.
#   Rscript scripts/ref_diagnostic_lavaan.R     (from the repository root)
# Input: tests/reference/diagnostic_two_groups.csv (scripts/make_diagnostic_reference.py).
# Output: tests/reference/diagnostic_lavaan.csv (one row per regression and case) and
#         tests/reference/diagnostic_lavaan.meta.json (versions, options, fit).
# Cases:
#   multigroup  sem(model, group = "department"): configural (no equality constraints);
#               its per-group estimates are those of separate per-group ML fits.
#   krk_total   sem(model + "OP ~ KRK_total" + "KRK_total ~~ COM + MA") on all 600 rows
#               (smsem.diagnostic.model_with_observed's default: the observed total
#               covaries with the exogenous latent variables; its variance is free).
# Estimator ML, likelihood "normal" (sample covariance divided by N): lavaan's sem()
# defaults, the same fit function as smsem (semopy MLW).
suppressPackageStartupMessages(library(lavaan))
d <- read.csv("tests/reference/diagnostic_two_groups.csv", stringsAsFactors = FALSE)
model <- paste(readLines("models/integrative.lav"), collapse = "\n")
fit_mg <- sem(model, data = d, group = "department", estimator = "ML")
ss <- standardizedSolution(fit_mg, type = "std.all")
pe <- parameterEstimates(fit_mg)
grp <- lavInspect(fit_mg, "group.label")
reg <- merge(pe[pe$op == "~", c("lhs", "op", "rhs", "group", "est")],
             ss[ss$op == "~", c("lhs", "op", "rhs", "group", "est.std")], by = c("lhs", "op", "rhs", "group"))
reg$group <- grp[reg$group]
reg$case <- "multigroup"
model_krk <- paste(model, "OP ~ KRK_total", "KRK_total ~~ COM + MA", sep = "\n")
fit_k <- sem(model_krk, data = d, estimator = "ML")
ssk <- standardizedSolution(fit_k, type = "std.all")
pek <- parameterEstimates(fit_k)
keep <- function(t) t$op == "~" | (t$op == "~~" & (t$lhs == "KRK_total" | t$rhs == "KRK_total") & t$lhs != t$rhs)
regk <- merge(pek[keep(pek), c("lhs", "op", "rhs", "est")],
              ssk[keep(ssk), c("lhs", "op", "rhs", "est.std")], by = c("lhs", "op", "rhs"))
regk$group <- "all"
regk$case <- "krk_total"
out <- rbind(reg[, c("case", "group", "lhs", "op", "rhs", "est", "est.std")],
             regk[, c("case", "group", "lhs", "op", "rhs", "est", "est.std")])
names(out)[names(out) == "est.std"] <- "std_all"
out <- out[order(out$case, out$group, out$lhs, out$rhs), ]
write.csv(out, "tests/reference/diagnostic_lavaan.csv", row.names = FALSE, quote = FALSE)
fm <- fitMeasures(fit_mg, c("chisq", "df"))
fk <- fitMeasures(fit_k, c("chisq", "df"))
meta <- sprintf('{\n  "lavaan_version": "%s",\n  "r_version": "%s",\n  "script": "scripts/ref_diagnostic_lavaan.R",\n  "data": "tests/reference/diagnostic_two_groups.csv",\n  "options": {"estimator": "ML", "likelihood": "normal (N)", "fixed.x": true, "group_equal": "none (configural)"},\n  "multigroup": {"chisq": %.10g, "df": %d, "n": {"%s": %d, "%s": %d}},\n  "krk_total": {"chisq": %.10g, "df": %d, "n": %d}\n}\n',
  as.character(packageVersion("lavaan")), R.version.string, fm[["chisq"]], as.integer(fm[["df"]]),
  grp[1], lavInspect(fit_mg, "nobs")[1], grp[2], lavInspect(fit_mg, "nobs")[2],
  fk[["chisq"]], as.integer(fk[["df"]]), lavInspect(fit_k, "nobs"))
writeLines(meta, "tests/reference/diagnostic_lavaan.meta.json", sep = "")
