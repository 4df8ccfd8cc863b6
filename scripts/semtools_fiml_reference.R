# semTools reliability of a FIML fit (issue 15 follow-up): compRelSEM and AVE read the
# sample statistics of the fit, which under missing = "ml" are lavaan's EM estimates of the
# unrestricted means and covariances (not the complete cases).
#
#   Rscript scripts/semtools_fiml_reference.R      (from the repository root)
#
# Writes tests/reference/semtools/hs_fiml.quality.csv: factor, alpha (compRelSEM tau.eq =
# TRUE), omega (compRelSEM), ave (AVE), for the three-factor Holzinger-Swineford CFA fitted
# by FIML to tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv (~10% MCAR cells).
suppressPackageStartupMessages({library(lavaan); library(semTools)})
d <- read.csv("tests/reference/lavaan_models/HolzingerSwineford1939_mcar.csv")
m <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
f <- cfa(m, d, missing = "ml")
out <- data.frame(factor = c("visual", "textual", "speed"))
out$alpha <- as.numeric(compRelSEM(f, tau.eq = TRUE)[out$factor])
out$omega <- as.numeric(compRelSEM(f)[out$factor])
out$ave <- as.numeric(AVE(f)[out$factor])
write.csv(out, "tests/reference/semtools/hs_fiml.quality.csv", row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "semTools", as.character(packageVersion("semTools")), "\n")
