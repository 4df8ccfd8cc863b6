# lavaan 0.6.14 bootstrap of the HS 4-category 3-factor fit (estimator DWLS: lavaan refuses WLSMV with
# se = "bootstrap"; the estimates are the WLSMV ones), B = 300, set.seed(1): the SD and 2.5/97.5% quantiles of
# the draws per free parameter. Run from the repository root: Rscript scripts/lavaan_wlsmv_bootstrap.R
suppressMessages(library(lavaan))
d <- read.csv("tests/reference/lavaan_ordinal/hs_cut4.csv")[paste0("x", 1:9)]
m <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
set.seed(1)
t0 <- proc.time()[["elapsed"]]
f <- cfa(m, d, ordered = TRUE, estimator = "DWLS", se = "bootstrap", bootstrap = 300)
cat("seconds", proc.time()[["elapsed"]] - t0, "\n")
b <- lavInspect(f, "boot")
cat("ok", nrow(b), "\n")
write.csv(data.frame(sd = apply(b, 2, sd), lo = apply(b, 2, quantile, 0.025), hi = apply(b, 2, quantile, 0.975)),
          "tests/reference/lavaan_wlsmv/hs_bootstrap.csv")
