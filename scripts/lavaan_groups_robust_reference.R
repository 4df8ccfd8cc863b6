# Robust and FIML multiple-group references from lavaan for smsem (issue 14, items 1-2).
#
#   Rscript scripts/lavaan_groups_robust_reference.R      (from the repository root)
#
# Writes tests/reference/lavaan_groups_robust/:
#   <case>.lav / .partable.csv / .fit.csv / .meta.json   as scripts/lavaan_groups_reference.R
#     (HolzingerSwineford1939 by school; MLM, MLR; FIML with ML and MLR on hs_missing.csv;
#     MLM with fixed covariates, sem() with visual ~ ageyr + grade)
#   hs_missing.csv   HolzingerSwineford1939 (school, x1..x9) with ~10% of x1..x9 set missing
#                    (set.seed(14), MCAR; no row entirely missing)
#   inv_<data>_<estimator>_steps.csv   fitMeasures of configural/metric/scalar/strict
#   inv_<data>_<estimator>_lrt_<method>.csv   lavTestLRT(..., method = <method>)
#                    ("default" = what lavaan 0.6.14 picks for the estimator)
#   bfi_complete.csv psych::bfi items A1..O5 and gender, complete cases (gender 1 = male, 2 = female)
#   bfi5.lav         the five-factor model
suppressPackageStartupMessages({library(lavaan); library(psych)})
out <- file.path("tests", "reference", "lavaan_groups_robust")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
hs <- read.csv(file.path("tests", "reference", "lavaan_models", "HolzingerSwineford1939.csv"))
hs3 <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
writeLines(hs3, file.path(out, "hs3.lav"))
set.seed(14)
hm <- hs[, c("school", paste0("x", 1:9))]
for (v in paste0("x", 1:9)) hm[runif(nrow(hm)) < 0.10, v] <- NA
hm <- hm[rowSums(!is.na(hm[, paste0("x", 1:9)])) > 0, ]
write.csv(hm, file.path(out, "hs_missing.csv"), row.names = FALSE, na = "")
jstr <- function(x) {
  if (is.logical(x)) return(tolower(as.character(x)))
  if (is.numeric(x)) return(format(x, digits = 15))
  if (length(x) != 1) return(paste0("[", paste0('"', x, '"', collapse = ", "), "]"))
  paste0('"', gsub('"', '\\\\"', as.character(x)), '"')
}
cases <- list(
  list(case = "mlm_configural", data = "hs", estimator = "MLM", missing = "listwise", ge = character(0)),
  list(case = "mlm_scalar", data = "hs", estimator = "MLM", missing = "listwise", ge = c("loadings", "intercepts")),
  list(case = "mlr_configural", data = "hs", estimator = "MLR", missing = "listwise", ge = character(0)),
  list(case = "mlr_scalar", data = "hs", estimator = "MLR", missing = "listwise", ge = c("loadings", "intercepts")),
  list(case = "fiml_configural", data = "hs_missing", estimator = "ML", missing = "ml", ge = character(0)),
  list(case = "fiml_metric", data = "hs_missing", estimator = "ML", missing = "ml", ge = "loadings"),
  list(case = "fiml_mlr_scalar", data = "hs_missing", estimator = "MLR", missing = "ml",
       ge = c("loadings", "intercepts")),
  list(case = "mlm_covariates", data = "hs", estimator = "MLM", missing = "listwise", ge = "loadings",
       model = "visual =~ x1 + x2 + x3\nvisual ~ ageyr + grade\n")
)
for (cs in cases) {
  d <- if (cs$data == "hs") hs else hm
  mod <- if (is.null(cs$model)) hs3 else cs$model
  fit <- sem(mod, data = d, group = "school", group.equal = if (length(cs$ge)) cs$ge else "",
             estimator = cs$estimator, missing = cs$missing)
  writeLines(mod, file.path(out, paste0(cs$case, ".lav")))
  pt <- parTable(fit)[, c("id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo",
                          "label", "plabel", "est", "se")]
  write.csv(pt, file.path(out, paste0(cs$case, ".partable.csv")), row.names = FALSE, na = "")
  fm <- fitMeasures(fit)
  write.csv(data.frame(name = names(fm), value = as.numeric(fm)), file.path(out, paste0(cs$case, ".fit.csv")),
            row.names = FALSE, na = "")
  meta <- list(case = cs$case, data = if (cs$data == "hs") "tests/reference/lavaan_models/HolzingerSwineford1939.csv"
               else "tests/reference/lavaan_groups_robust/hs_missing.csv", group = "school",
               group_equal = if (length(cs$ge)) cs$ge else "", estimator = cs$estimator, missing = cs$missing,
               call = "cfa(model, data, group = \"school\", group.equal = ..., estimator = ..., missing = ...)",
               lavaan_version = as.character(packageVersion("lavaan")), r_version = R.version.string,
               converged = lavInspect(fit, "converged"))
  body <- paste0('  "', names(meta), '": ', vapply(meta, jstr, ""), collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), file.path(out, paste0(cs$case, ".meta.json")))
  cat("wrote", cs$case, "\n")
}

# Invariance sequences with lavTestLRT (default method and the strictly positive 2010 one).
steps <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
              strict = c("loadings", "intercepts", "residuals"))
bfi <- psych::bfi
items <- c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5), paste0("N", 1:5), paste0("O", 1:5))
bc <- bfi[complete.cases(bfi[, c(items, "gender")]), c(items, "gender")]
write.csv(bc, file.path(out, "bfi_complete.csv"), row.names = FALSE)
bfi5 <- paste0("agree =~ ", paste(items[1:5], collapse = " + "), "\n",
               "consc =~ ", paste(items[6:10], collapse = " + "), "\n",
               "extra =~ ", paste(items[11:15], collapse = " + "), "\n",
               "neuro =~ ", paste(items[16:20], collapse = " + "), "\n",
               "open =~ ", paste(items[21:25], collapse = " + "), "\n")
writeLines(bfi5, file.path(out, "bfi5.lav"))
keys <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
          "baseline.chisq", "baseline.df", "baseline.chisq.scaled", "baseline.chisq.scaling.factor",
          "cfi", "tli", "cfi.scaled", "tli.scaled", "cfi.robust", "tli.robust",
          "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled",
          "rmsea.ci.upper.scaled", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
          "srmr", "logl", "aic", "bic")
seqs <- list(list(name = "hs_ML", data = hs, model = hs3, group = "school", estimator = "ML"),
             list(name = "hs_MLR", data = hs, model = hs3, group = "school", estimator = "MLR"),
             list(name = "hs_MLM", data = hs, model = hs3, group = "school", estimator = "MLM"),
             list(name = "bfi_MLR", data = bc, model = bfi5, group = "gender", estimator = "MLR"))
for (sq in seqs) {
  fits <- lapply(steps, function(ge) cfa(sq$model, data = sq$data, group = sq$group, group.equal = ge,
                                         estimator = sq$estimator))
  tab <- do.call(rbind, lapply(names(fits), function(s) {
    fm <- suppressWarnings(fitMeasures(fits[[s]], keys[keys %in% names(fitMeasures(fits[[s]]))]))
    data.frame(step = s, as.list(setNames(as.numeric(fm), names(fm))), check.names = FALSE)
  }))
  write.csv(tab, file.path(out, paste0("inv_", sq$name, "_steps.csv")), row.names = FALSE)
  methods <- if (sq$estimator == "ML") "default" else c("default", "satorra.bentler.2001", "satorra.bentler.2010")
  for (m in methods) {
    lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict, method = m)
    lrt <- data.frame(step = names(fits), as.data.frame(lrt), check.names = FALSE, row.names = NULL)
    lrt$method <- if (is.null(attr(lrt, "method"))) m else attr(lrt, "method")
    write.csv(lrt, file.path(out, paste0("inv_", sq$name, "_lrt_", m, ".csv")), row.names = FALSE, na = "")
  }
  cat("wrote", sq$name, "\n")
}
h <- attr(lavTestLRT(cfa(hs3, hs, group = "school", estimator = "MLR"),
                      cfa(hs3, hs, group = "school", estimator = "MLR", group.equal = "loadings")), "heading")
writeLines(c(sprintf('{\n  "lavaan_version": "%s",\n  "r_version": "%s",', as.character(packageVersion("lavaan")),
                     R.version.string),
             sprintf('  "lrt_default_heading_MLR": %s\n}', jstr(gsub("\n", " ", h)))),
           file.path(out, "meta.json"))
