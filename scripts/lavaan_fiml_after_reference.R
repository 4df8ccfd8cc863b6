# lavaan references for modification indices of a FIML fit (tests/test_fiml_after.py).
#
#   Rscript scripts/lavaan_fiml_after_reference.R          (from the repository root)
#
# Writes tests/reference/lavaan_fiml_after/integrative_fiml.mi.csv: modindices(fit, sort. = TRUE)
# of sem(models/integrative.lav, missing = "ml") on the survey with missing answers
# (data/synthetic/integrative_n300_seed1_missing.csv; lavaan's information = "expected").
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_fiml_after")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
m <- paste(readLines("models/integrative.lav"), collapse = "\n")
fit <- sem(m, data = read.csv("data/synthetic/integrative_n300_seed1_missing.csv"), missing = "ml")
write.csv(modindices(fit, sort. = TRUE), file.path(out, "integrative_fiml.mi.csv"), row.names = FALSE, na = "")
