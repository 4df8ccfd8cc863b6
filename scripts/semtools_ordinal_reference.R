# semTools 0.5.6 reliability and validity for ordinal items (lavaan 0.6.14 WLSMV fits), the
# references of tests/test_ordinal_quality.py.
#
#   Rscript scripts/semtools_ordinal_reference.R          (from the repository root)
#
# Writes tests/reference/semtools_ordinal/<case>.quality.csv, per factor:
#   omega      compRelSEM(fit)                         categorical omega (Green & Yang 2009; ord.scale = TRUE)
#   omega_lat  compRelSEM(fit, ord.scale = FALSE)      omega of the latent responses (sum(LPL')/sum(polychorics))
#   alpha_ord  compRelSEM(fit, tau.eq = TRUE, ord.scale = FALSE)   ordinal alpha (alpha on the polychorics)
#   alpha_raw  compRelSEM(fit, tau.eq = TRUE)          alpha of the raw item codes
#   ave        AVE(fit)
# and <case>.htmt.csv / <case>.htmt2.csv: htmt(model, data, ordered = items, htmt2 = FALSE / TRUE)
# (HTMT on the polychoric correlations), <case>.meta.json (versions, call, n).
suppressPackageStartupMessages({library(lavaan); library(semTools)})
out <- file.path("tests", "reference", "semtools_ordinal")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
mat_csv <- function(m, name) { m <- unclass(m); wcsv(data.frame(construct = rownames(m), m, check.names = FALSE), name) }
hs_model <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
hs <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
integ <- read.csv("data/synthetic/integrative_n300_seed1.csv")
integ_model <- paste(readLines("models/integrative.lav"), collapse = "\n")
hs_mixed <- read.csv("tests/reference/lavaan_wlsmv/hs_mixed_data.csv")  # x6, x9 continuous
cases <- list(
  hs = list(model = hs_model, data = hs, parameterization = "delta"),
  hs_mixed = list(model = hs_model, data = hs_mixed, parameterization = "delta", ordered = paste0("x", c(1:5, 7:8))),
  hs_theta = list(model = hs_model, data = hs, parameterization = "theta"),
  integrative = list(model = integ_model, data = integ, parameterization = "delta")
)
for (nm in names(cases)) {
  cs <- cases[[nm]]
  ord <- if (is.null(cs$ordered)) names(cs$data) else cs$ordered
  fit <- sem(cs$model, data = cs$data, ordered = ord, estimator = "WLSMV", parameterization = cs$parameterization)
  omega <- compRelSEM(fit)
  q <- data.frame(construct = names(omega), omega = as.numeric(omega),
                  omega_lat = as.numeric(compRelSEM(fit, ord.scale = FALSE)[names(omega)]),
                  alpha_ord = as.numeric(compRelSEM(fit, tau.eq = TRUE, ord.scale = FALSE)[names(omega)]),
                  alpha_raw = as.numeric(compRelSEM(fit, tau.eq = TRUE)[names(omega)]),
                  ave = as.numeric(AVE(fit)[names(omega)]))
  q[] <- lapply(q, function(v) if (is.numeric(v)) formatC(v, digits = 15, format = "g") else v)
  wcsv(q, paste0(nm, ".quality.csv"))
  items <- lavNames(fit, "ov")
  oi <- intersect(items, ord)
  mat_csv(htmt(cs$model, cs$data[items], ordered = oi, htmt2 = FALSE), paste0(nm, ".htmt.csv"))
  mat_csv(htmt(cs$model, cs$data[items], ordered = oi, htmt2 = TRUE), paste0(nm, ".htmt2.csv"))
  writeLines(sprintf('{"case": "%s", "lavaan": "%s", "semTools": "%s", "parameterization": "%s", "n": %d, "call": "sem(model, data, ordered = TRUE, estimator = \\"WLSMV\\"); compRelSEM(fit[, ord.scale = FALSE | tau.eq = TRUE[, ord.scale = FALSE]]); AVE(fit); htmt(model, data, ordered = items, htmt2 = FALSE|TRUE)"}',
                     nm, packageVersion("lavaan"), packageVersion("semTools"), cs$parameterization, lavInspect(fit, "nobs")),
             file.path(out, paste0(nm, ".meta.json")))
}
cat("wrote", out, "\n")
