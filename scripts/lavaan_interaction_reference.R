# lavaan reference fits of product-indicator models of latent interactions (issue 17),
# for tests/test_interaction_product.py.
#
#   Rscript scripts/lavaan_interaction_reference.R          (from the repository root)
#
# The product indicators are built by semTools::indProd, independently of smsem:
#   dmc: indProd(meanC = TRUE, residualC = FALSE, doubleMC = TRUE)   (Lin et al. 2010)
#   rca: indProd(meanC = FALSE, residualC = TRUE, doubleMC = FALSE)  (Little et al. 2006)
# all pairs of indicators (match = FALSE, modsem's default), product latent "a.b",
# product columns "x.z"; residual covariances between products sharing an indicator
# (modsem's res.cov.method = "simple"). The lavaan syntax is written out here by hand.
# Fit: lavaan sem() defaults (ML, expected information, likelihood "normal").
#
# Writes to tests/reference/interaction/, per case:
#   <case>.params.csv  parameterEstimates(): lhs, op, rhs, est, se
#   <case>.fit.csv     chisq, df, npar, logl (name, value)
#   <case>.meta.json   versions, model, data, method
suppressPackageStartupMessages({library(lavaan); library(semTools)})

out <- file.path("tests", "reference", "interaction")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")

hs <- lavaan::HolzingerSwineford1939[, paste0("x", 1:9)]
xv <- c("x1", "x2", "x3"); xt <- c("x4", "x5", "x6")
prods <- as.vector(t(outer(xv, xt, paste, sep = ".")))   # x1.x4 x1.x5 x1.x6 x2.x4 ...

rescov <- c()
pairs <- expand.grid(t = xt, v = xv, stringsAsFactors = FALSE)[, c("v", "t")]
for (i in seq_len(nrow(pairs) - 1)) for (j in (i + 1):nrow(pairs)) {
  if (pairs$v[i] == pairs$v[j] || pairs$t[i] == pairs$t[j])
    rescov <- c(rescov, sprintf("%s.%s ~~ %s.%s", pairs$v[i], pairs$t[i], pairs$v[j], pairs$t[j]))
}
syntax <- paste(c(
  "visual  =~ x1 + x2 + x3",
  "textual =~ x4 + x5 + x6",
  "speed   =~ x7 + x8 + x9",
  "speed ~ visual + textual + visual.textual",
  paste("visual.textual =~", paste(prods, collapse = " + ")),
  rescov), collapse = "\n")

cases <- list(
  hs_dmc = list(method = "dmc", meanC = TRUE, residualC = FALSE, doubleMC = TRUE),
  hs_rca = list(method = "rca", meanC = FALSE, residualC = TRUE, doubleMC = FALSE),
  # the linear model of smsem's linear_comparison(): the interaction fixed at 0
  hs_dmc_fixed0 = list(method = "dmc", meanC = TRUE, residualC = FALSE, doubleMC = TRUE, fixed0 = TRUE))
for (case in names(cases)) {
  o <- cases[[case]]
  d <- indProd(hs, var1 = xv, var2 = xt, match = FALSE, meanC = o$meanC,
               residualC = o$residualC, doubleMC = o$doubleMC)
  stopifnot(all(prods %in% names(d)))
  syn <- if (isTRUE(o$fixed0)) sub("+ visual.textual", "+ 0*visual.textual", syntax, fixed = TRUE) else syntax
  fit <- sem(syn, data = d)
  pe <- parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")]
  wcsv(pe, paste0(case, ".params.csv"))
  fm <- fitMeasures(fit, c("chisq", "df", "npar", "logl"))
  wcsv(data.frame(name = names(fm), value = format(as.numeric(fm), digits = 15)), paste0(case, ".fit.csv"))
  meta <- c(case = case, method = o$method, model = "tests/models/hs_interaction.lav",
            data = "tests/reference/lavaan/HolzingerSwineford1939.csv",
            r_version = R.version.string, lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            converged = tolower(as.character(lavInspect(fit, "converged"))))
  writeLines(paste0("{\n", paste0('  "', names(meta), '": "', meta, '"', collapse = ",\n"), "\n}"),
             file.path(out, paste0(case, ".meta.json")))
}

# --- latent x observed: visual:x4 (x4 observed, its own single indicator); products
# x1.x4 x2.x4 x3.x4 all share x4, which adds no residual covariance (modsem's
# include.single.inds = FALSE) ---
lo_syntax <- paste(c(
  "visual =~ x1 + x2 + x3",
  "speed  =~ x7 + x8 + x9",
  "speed ~ visual + x4 + visual.x4",
  "visual.x4 =~ x1.x4 + x2.x4 + x3.x4"), collapse = "\n")
d <- indProd(hs, var1 = xv, var2 = "x4", match = FALSE, meanC = TRUE, residualC = FALSE, doubleMC = TRUE)
fit <- sem(lo_syntax, data = d)
case <- "hs_latent_observed_dmc"
wcsv(parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")], paste0(case, ".params.csv"))
fm <- fitMeasures(fit, c("chisq", "df", "npar", "logl"))
wcsv(data.frame(name = names(fm), value = format(as.numeric(fm), digits = 15)), paste0(case, ".fit.csv"))
meta <- c(case = case, method = "dmc", model = "tests/models/hs_latent_observed.lav",
          data = "tests/reference/lavaan/HolzingerSwineford1939.csv",
          r_version = R.version.string, lavaan_version = as.character(packageVersion("lavaan")),
          semtools_version = as.character(packageVersion("semTools")),
          converged = tolower(as.character(lavInspect(fit, "converged"))))
writeLines(paste0("{\n", paste0('  "', names(meta), '": "', meta, '"', collapse = ",\n"), "\n}"),
           file.path(out, paste0(case, ".meta.json")))

# --- the essay's second reading: models/integrative_moderation.lav, matched products ---
# Data: data/synthetic/moderation_n1000_seed17.csv (scripts/make_moderation_example.py).
# Five latent products (COM:IS, COM:SL, MA:IS, MA:SL on IC; COM:IC, MA:IC on EA), each
# with matched indicators (match = TRUE: COM1.IS1, COM2.IS2, COM3.IS3), hence no shared
# item and no residual covariance among product indicators.
md <- read.csv(file.path("data", "synthetic", "moderation_n1000_seed17.csv"))
items <- function(lv) paste0(lv, 1:3)
terms <- list(c("COM", "IS"), c("COM", "SL"), c("MA", "IS"), c("MA", "SL"), c("COM", "IC"), c("MA", "IC"))
mod_syntax <- c(
  "COM =~ COM1 + COM2 + COM3", "MA =~ MA1 + MA2 + MA3", "IS =~ IS1 + IS2 + IS3",
  "SL =~ SL1 + SL2 + SL3", "IC =~ IC1 + IC2 + IC3", "EA =~ EA1 + EA2 + EA3",
  "OP =~ OP1 + OP2 + OP3 + OP4",
  "IS ~ COM + MA", "SL ~ COM + MA",
  "IC ~ IS + SL + COM + MA + COM.IS + COM.SL + MA.IS + MA.SL",
  "EA ~ IC + COM + MA + COM.IC + MA.IC",
  "OP ~ EA", "COM ~~ MA")
for (method in c("dmc", "rca")) {
  d <- md
  for (tt in terms) {
    p <- indProd(md, var1 = items(tt[1]), var2 = items(tt[2]), match = TRUE,
                 meanC = method == "dmc", residualC = method == "rca", doubleMC = method == "dmc")
    new <- setdiff(names(p), names(md))
    d[new] <- p[new]
  }
  lv_lines <- vapply(terms, function(tt) sprintf("%s.%s =~ %s", tt[1], tt[2],
                     paste(paste(items(tt[1]), items(tt[2]), sep = "."), collapse = " + ")), "")
  fit <- sem(paste(c(mod_syntax, lv_lines), collapse = "\n"), data = d)
  case <- paste0("moderation_", method, "_match")
  wcsv(parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")], paste0(case, ".params.csv"))
  fm <- fitMeasures(fit, c("chisq", "df", "npar", "logl"))
  wcsv(data.frame(name = names(fm), value = format(as.numeric(fm), digits = 15)), paste0(case, ".fit.csv"))
  meta <- c(case = case, method = method, match = "true", model = "models/integrative_moderation.lav",
            data = "data/synthetic/moderation_n1000_seed17.csv",
            r_version = R.version.string, lavaan_version = as.character(packageVersion("lavaan")),
            semtools_version = as.character(packageVersion("semTools")),
            converged = tolower(as.character(lavInspect(fit, "converged"))))
  writeLines(paste0("{\n", paste0('  "', names(meta), '": "', meta, '"', collapse = ",\n"), "\n}"),
             file.path(out, paste0(case, ".meta.json")))
}
