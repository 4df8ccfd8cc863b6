# semTools reliability of a FIML fit (issue 15 follow-up): compRelSEM and AVE read the
# sample statistics of the fit, which under missing = "ml" are lavaan's EM estimates of the
# unrestricted means and covariances (not the complete cases).
#
#   Rscript scripts/semtools_fiml_reference.R      (from the repository root)
#
# Writes tests/reference/semtools/hs_fiml.quality.csv: factor, alpha (compRelSEM tau.eq =
# TRUE), omega (compRelSEM), ave (AVE), for the three-factor Holzinger-Swineford CFA fitted
# by FIML to tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv (~10% MCAR cells),
# and tests/reference/semtools/hs_fiml.htmt.csv: HTMT (htmt2 = FALSE) and HTMT2 of each pair
# from htmt(model, data, missing = "ml") (semTools 0.5.6's htmt takes the model syntax and the
# data, not a fit: htmt(fit, data) stops with an error; missing = "ml" gives lavCor's EM
# correlations, the same as htmt(model, sample.cov = lavInspect(fit, "sampstat")$cov), checked
# below), and, for comparison, the default missing = "listwise" (complete cases).
suppressPackageStartupMessages({library(lavaan); library(semTools)})
d <- read.csv("tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv")
m <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
f <- cfa(m, d, missing = "ml")
out <- data.frame(factor = c("visual", "textual", "speed"))
out$alpha <- as.numeric(compRelSEM(f, tau.eq = TRUE)[out$factor])
out$omega <- as.numeric(compRelSEM(f)[out$factor])
out$ave <- as.numeric(AVE(f)[out$factor])
write.csv(out, "tests/reference/semtools/hs_fiml.quality.csv", row.names = FALSE)
pairs <- data.frame(a = c("visual", "visual", "textual"), b = c("textual", "speed", "speed"))
h <- list(ml = htmt(m, d, missing = "ml", htmt2 = FALSE), ml2 = htmt(m, d, missing = "ml"),
          lw = htmt(m, d, htmt2 = FALSE), lw2 = htmt(m, d))
sc <- htmt(m, sample.cov = lavInspect(f, "sampstat")$cov, htmt2 = FALSE)
stopifnot(max(abs(unclass(sc) - unclass(h$ml)), na.rm = TRUE) < 1e-12)
for (k in names(h)) pairs[[k]] <- mapply(function(a, b) h[[k]][b, a], pairs$a, pairs$b)
names(pairs) <- c("a", "b", "htmt_ml", "htmt2_ml", "htmt_listwise", "htmt2_listwise")
write.csv(pairs, "tests/reference/semtools/hs_fiml.htmt.csv", row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "semTools", as.character(packageVersion("semTools")), "\n")
