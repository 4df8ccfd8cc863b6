# Reference values for smsem.estimate.categorical (thresholds, polychoric/polyserial
# correlations, NACOV = lavInspect(fit, "gamma"), WLS.obs and the DWLS weights).
# Run from the repository root:  Rscript scripts/lavaan_ordinal_reference.R
# Writes tests/reference/lavaan_ordinal/<case>_*.csv and <case>.meta.json.
suppressMessages({library(lavaan); library(psych)})
out <- "tests/reference/lavaan_ordinal"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
w <- function(x, f, ...) write.csv(x, file.path(out, f), ...)
fmt <- function(x) formatC(x, digits = 17, format = "g")

ct4 <- function(x) cut(x, quantile(x, c(0, .25, .5, .75, 1)), include.lowest = TRUE, labels = FALSE)
hs <- HolzingerSwineford1939
hs_cut <- as.data.frame(lapply(hs[paste0("x", 1:9)], ct4))
hs_cut$age <- hs$ageyr + hs$agemo / 12
write.csv(hs_cut, file.path(out, "hs_cut4.csv"), row.names = FALSE)
bfi25 <- psych::bfi[, 1:25]
write.csv(bfi25, file.path(out, "bfi25.csv"), row.names = FALSE, na = "")
write.csv(psych::bfi[, c(paste0("A", 1:5), paste0("N", 1:5), "age", "education")], file.path(out, "bfi_age.csv"),
          row.names = FALSE, na = "")
write.csv(data.frame(hs_cut[c("x1", "x2", "x3", "age")], x9 = hs$x9), file.path(out, "hs_two_numeric.csv"),
          row.names = FALSE)

# zero cells: a 2x2 table with one empty cell (zero.add = 0.5 with the margins kept) and
# 4x4 tables with empty cells (left empty: zero.add[2] = 0)
zc <- data.frame(b1 = as.integer(hs_cut$x1 > 2) + 1L, b2 = as.integer(hs_cut$x2 > 2) + 1L,
                 x3 = hs_cut$x3, x4 = hs_cut$x4, b5 = as.integer(hs_cut$x5 > 1) + 1L)
zc$b2[zc$b1 == 1L & zc$b2 == 2L] <- 1L
zc$x4[zc$x3 == 1L & zc$x4 > 2L] <- 2L
write.csv(zc, file.path(out, "zero_cells.csv"), row.names = FALSE)

cases <- list(
  zero_cells = list(data = zc, ordered = names(zc), missing = "listwise"),
  hs_cut4 = list(data = hs_cut[paste0("x", 1:9)], ordered = paste0("x", 1:9), missing = "listwise"),
  bfi25 = list(data = bfi25, ordered = names(bfi25), missing = "pairwise"),
  hs_polyserial = list(data = hs_cut[c(paste0("x", 1:4), "age")], ordered = paste0("x", 1:4), missing = "listwise"),
  # two continuous variables (no missing: Pearson) with ordinal items
  hs_two_numeric = list(data = data.frame(hs_cut[c("x1", "x2", "x3", "age")], x9 = hs$x9),
                        ordered = c("x1", "x2", "x3"), missing = "listwise"),
  # two continuous variables with missing values (ML two-step), pairwise
  bfi_numeric = list(data = psych::bfi[, c(paste0("A", 1:5), "education", "age")],
                     ordered = paste0("A", 1:5), missing = "pairwise"),
  # polyserial with missing answers (pairwise): bfi's age with ten of its items
  bfi_age = list(data = psych::bfi[, c(paste0("A", 1:5), paste0("N", 1:5), "age")],
                 ordered = c(paste0("A", 1:5), paste0("N", 1:5)), missing = "pairwise")
)
for (nm in names(cases)) {
  cs <- cases[[nm]]
  t0 <- proc.time()[["elapsed"]]
  R <- lavCor(cs$data, ordered = cs$ordered, missing = cs$missing, output = "cor")
  t_cor <- proc.time()[["elapsed"]] - t0
  t0 <- proc.time()[["elapsed"]]
  fit <- lavCor(cs$data, ordered = cs$ordered, missing = cs$missing,
                estimator = "WLSMV", se = "robust.sem", output = "fit")
  t_fit <- proc.time()[["elapsed"]] - t0
  ss <- lavInspect(fit, "sampstat")
  wo <- lavInspect(fit, "wls.obs")
  G <- lavInspect(fit, "gamma")
  V <- lavInspect(fit, "wls.v")
  write.csv(data.frame(name = names(ss$th), value = fmt(unname(ss$th))),
            file.path(out, paste0(nm, "_th.csv")), row.names = FALSE, quote = FALSE)
  write.csv(apply(unclass(R), 2, fmt), file.path(out, paste0(nm, "_cor.csv")), quote = FALSE)
  write.csv(apply(unclass(ss$cov), 2, fmt), file.path(out, paste0(nm, "_cov.csv")), quote = FALSE)
  write.csv(data.frame(name = names(wo), value = fmt(unname(wo))),
            file.path(out, paste0(nm, "_wls_obs.csv")), row.names = FALSE, quote = FALSE)
  Gm <- apply(unclass(G), 2, fmt); rownames(Gm) <- names(wo); colnames(Gm) <- names(wo)
  write.csv(Gm, file.path(out, paste0(nm, "_gamma.csv")), quote = FALSE)
  write.csv(data.frame(name = names(wo), value = fmt(diag(V))),
            file.path(out, paste0(nm, "_wls_vd.csv")), row.names = FALSE, quote = FALSE)
  meta <- sprintf('{"case": "%s", "lavaan": "%s", "R": "%s", "call": "lavCor(data, ordered = %s, missing = \\"%s\\", estimator = \\"WLSMV\\", se = \\"robust.sem\\", output = \\"fit\\")", "nobs": %d, "zero.add": "default = c(0.5, 0)", "zero.keep.margins": "default = TRUE", "gamma.n.minus.one": false, "seconds_lavCor_cor": %.3f, "seconds_lavCor_fit": %.3f}',
                  nm, as.character(packageVersion("lavaan")), paste(R.version$major, R.version$minor, sep = "."),
                  if (length(cs$ordered) == ncol(cs$data)) "TRUE" else "names", cs$missing,
                  lavInspect(fit, "nobs"), t_cor, t_fit)
  writeLines(meta, file.path(out, paste0(nm, ".meta.json")))
  cat(nm, "done", t_cor, t_fit, "\n")
}
