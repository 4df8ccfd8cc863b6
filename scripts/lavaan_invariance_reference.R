# Measurement-invariance references from lavaan for `smsem invariance` (issue 14).
#
#   Rscript scripts/lavaan_invariance_reference.R      (from the repository root)
#
# HolzingerSwineford1939 (tests/reference/lavaan_models/HolzingerSwineford1939.csv, school coded
# 1 = Grant-White, 2 = Pasteur; lavaan's group order is first appearance: "2", "1"), grouped by
# school, the 3-factor model, ML (normal likelihood), listwise (the file is complete):
#   steps.csv        fitMeasures of configural / metric / scalar / strict
#                    (group.equal = none; loadings; + intercepts; + residuals)
#   lrt.csv          lavTestLRT(configural, metric, scalar, strict)
#   score_uni.csv    lavTestScore(scalar, cumulative = TRUE)$uni   (releasing each == row)
#   score_cumulative.csv  ...$cumulative
#   score_total.csv  ...$test
#   latent_means.csv parameterEstimates(scalar) of the latent means (~1 rows of the factors)
#   partial.csv      fitMeasures of the scalar fit with group.partial = c("x3~1", "x7~1")
#   meta.json        versions and the call
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_invariance")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
data_file <- file.path("tests", "reference", "lavaan_models", "HolzingerSwineford1939.csv")
hs <- read.csv(data_file)
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
writeLines(model, file.path(out, "hs3.lav"))
steps <- list(configural = character(0), metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"))
fits <- lapply(steps, function(ge) cfa(model, data = hs, group = "school", group.equal = if (length(ge)) ge else ""))
names(fits) <- names(steps)
keys <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "rmsea",
          "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.pvalue", "srmr", "logl", "aic", "bic")
tab <- do.call(rbind, lapply(names(fits), function(s) {
  fm <- fitMeasures(fits[[s]], keys)
  data.frame(step = s, as.list(setNames(as.numeric(fm), names(fm))), check.names = FALSE)
}))
write.csv(tab, file.path(out, "steps.csv"), row.names = FALSE)
lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
lrt <- data.frame(step = names(fits), as.data.frame(lrt), check.names = FALSE, row.names = NULL)
write.csv(lrt, file.path(out, "lrt.csv"), row.names = FALSE, na = "")
sc <- lavTestScore(fits$scalar, cumulative = TRUE)
write.csv(sc$test, file.path(out, "score_total.csv"), row.names = FALSE)
write.csv(sc$uni, file.path(out, "score_uni.csv"), row.names = FALSE)
write.csv(sc$cumulative, file.path(out, "score_cumulative.csv"), row.names = FALSE)
pe <- parameterEstimates(fits$scalar)
lm <- pe[pe$op == "~1" & pe$lhs %in% c("visual", "textual", "speed"), ]
write.csv(lm, file.path(out, "latent_means.csv"), row.names = FALSE)
part <- cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts"),
            group.partial = c("x3~1", "x7~1"))
write.csv(data.frame(name = keys, value = as.numeric(fitMeasures(part, keys))), file.path(out, "partial.csv"),
          row.names = FALSE)
meta <- sprintf('{\n  "data": "%s",\n  "group": "school",\n  "group_label": ["%s"],\n  "estimator": "ML",\n  "lavaan_version": "%s",\n  "r_version": "%s",\n  "call": "cfa(model, data, group = \\"school\\", group.equal = ...); lavTestLRT(...); lavTestScore(scalar, cumulative = TRUE)"\n}',
                data_file, paste(lavInspect(fits$scalar, "group.label"), collapse = '", "'),
                as.character(packageVersion("lavaan")), R.version.string)
writeLines(meta, file.path(out, "meta.json"))
cat("wrote", out, "\n")

# The integrative model (models/integrative.lav) on generated sales/marketing data:
# integrative_two_departments.csv = `smsem generate --n 300 --seed 1` (sales) stacked on
# `--seed 2` (marketing), with a department column (full invariance holds by construction).
# integrative_steps.csv: fitMeasures of the four steps; integrative_latent_means.csv: the
# scalar fit's ~1 rows of the factors (group 2).
d2 <- read.csv(file.path(out, "integrative_two_departments.csv"))
im <- paste(readLines(file.path("models", "integrative.lav")), collapse = "\n")
ifits <- lapply(steps, function(ge) sem(im, data = d2, group = "department",
                                        group.equal = if (length(ge)) ge else ""))
itab <- do.call(rbind, lapply(names(ifits), function(s) {
  fm <- fitMeasures(ifits[[s]], keys)
  data.frame(step = s, as.list(setNames(as.numeric(fm), names(fm))), check.names = FALSE)
}))
write.csv(itab, file.path(out, "integrative_steps.csv"), row.names = FALSE)
ipe <- parameterEstimates(ifits$scalar)
write.csv(ipe[ipe$op == "~1" & ipe$group == 2 & ipe$lhs %in% lavNames(ifits$scalar, "lv"), ],
          file.path(out, "integrative_latent_means.csv"), row.names = FALSE)
cat("wrote integrative references\n")
