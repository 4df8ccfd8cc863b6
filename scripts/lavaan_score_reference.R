# lavaan references for single-group score tests of equality constraints
# (tests/test_score_single.py).
#
#   Rscript scripts/lavaan_score_reference.R          (from the repository root)
#
# Writes tests/reference/lavaan_score/<case>.score_{total,uni,cumulative}.csv from
# lavTestScore(fit, cumulative = TRUE) (lavaan 0.6, sem() defaults, ML, complete data).
# Cases: hs_constraints (one shared label), poldem_equal (three shared labels and a user
# "r1 == r2"), integrative_equal (two labels shared by two regressions each), and
# integrative_equal_fiml: the same model by FIML (missing = "ml") on the survey with
# missing answers (lavaan's default information there: observed).
suppressPackageStartupMessages(library(lavaan))

out <- file.path("tests", "reference", "lavaan_score")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
read_model <- function(path) paste(readLines(path), collapse = "\n")

cases <- list(
  hs_constraints = list(model = "tests/reference/lavaan_after/hs_constraints.lav",
                        data = "tests/reference/lavaan/HolzingerSwineford1939.csv"),
  poldem_equal = list(model = "tests/reference/lavaan_score/poldem_equal.lav",
                      data = "tests/reference/lavaan/PoliticalDemocracy.csv"),
  integrative_equal = list(model = "tests/reference/lavaan_score/integrative_equal.lav",
                           data = "data/synthetic/integrative_n300_seed1.csv"),
  integrative_equal_fiml = list(model = "tests/reference/lavaan_score/integrative_equal.lav",
                                data = "data/synthetic/integrative_n300_seed1_missing.csv", missing = "ml")
)
for (case in names(cases)) {
  cs <- cases[[case]]
  fit <- sem(read_model(cs$model), data = read.csv(cs$data),
             missing = if (is.null(cs$missing)) "listwise" else cs$missing)
  sc <- lavTestScore(fit, cumulative = TRUE)
  wcsv(sc$test, paste0(case, ".score_total.csv"))
  wcsv(sc$uni, paste0(case, ".score_uni.csv"))
  wcsv(sc$cumulative, paste0(case, ".score_cumulative.csv"))
}
