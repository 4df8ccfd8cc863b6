# lavaan's bootstrap of the P1-P4 chain IS -> IC -> EA -> OP (a := parameter), for
# tests/test_bootstrap_effects.py.
#
#   Rscript scripts/lavaan_boot_reference.R          (from the repository root)
#
# Writes tests/reference/lavaan_boot/integrative_ind.csv: parameterEstimates() with
# boot.ci.type = "perc" (level .95) of sem(model, data, se = "bootstrap", bootstrap = B),
# and integrative_ind.draws.csv: the B bootstrap values of `ind` (lavInspect "boot"),
# so the Monte Carlo error of lavaan's own interval can be measured.
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_boot")
model <- paste(readLines(file.path(out, "integrative_ind.lav")), collapse = "\n")
data <- read.csv("data/synthetic/integrative_n300_seed1.csv")
B <- 2000
set.seed(20190102)
t0 <- Sys.time()
fit <- sem(model, data = data, se = "bootstrap", bootstrap = B)
elapsed <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
pe <- parameterEstimates(fit, boot.ci.type = "perc", level = 0.95)
pe <- pe[pe$op %in% c("~", ":="), c("lhs", "op", "rhs", "label", "est", "se", "ci.lower", "ci.upper")]
write.csv(pe, file.path(out, "integrative_ind.csv"), row.names = FALSE)
bt <- lavInspect(fit, "boot")
ind <- bt[, "a"] * bt[, "b"] * bt[, "c"]
write.csv(data.frame(ind = ind), file.path(out, "integrative_ind.draws.csv"), row.names = FALSE)
cat(sprintf("lavaan %s, B = %d (%d usable), %.1f s\n", packageVersion("lavaan"), B,
            sum(is.finite(ind)), elapsed))
print(pe)
