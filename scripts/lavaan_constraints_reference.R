# lavaan reference values for smsem's constrained estimation (smsem/estimate/constraints.py).
#
#   Rscript scripts/lavaan_constraints_reference.R          (from the repository root)
#
# Data: HolzingerSwineford1939 x1..x9 (tests/reference/lavaan/HolzingerSwineford1939.csv, the
# same numbers as lavaan::HolzingerSwineford1939). Estimator ML, likelihood "normal" (S / N,
# chi2 = 2 N F_ML), information "expected", lavaan's cfa() defaults.
#
# Writes to tests/reference/lavaan_constraints/, for each case:
#   <case>.lav          the model syntax
#   <case>.params.csv   parameterEstimates() (every row, including := == < > rows)
#   <case>.partable.csv parTable()
#   <case>.fit.csv      fitMeasures() (name, value)
#   <case>.vcov.csv     vcov(fit) (free parameters, lavaan's order)
#   <case>.info.csv     lavInspect(fit, "information") (expected, unit / per-observation scale)
#   <case>.conjac.csv   the constraint Jacobian at the solution (lavInspect "con.jac"),
#                       with lavaan's inactive inequality rows marked
#   <case>.meta.json    versions, options, N, converged, df
suppressPackageStartupMessages(library(lavaan))

out <- file.path("tests", "reference", "lavaan_constraints")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
jstr <- function(x) {
  if (is.logical(x)) return(tolower(as.character(x)))
  if (is.numeric(x)) return(format(x, digits = 15))
  paste0('"', gsub('"', '\\\\"', as.character(x)), '"')
}
wjson <- function(lst, name) {
  body <- paste0('  "', names(lst), '": ', vapply(lst, jstr, ""), collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), file.path(out, name))
}

hs <- read.csv(file.path("tests", "reference", "lavaan", "HolzingerSwineford1939.csv"))

base <- "
textual =~ x4 + x5 + x6
speed   =~ x7 + x8 + x9
"
cases <- list(
  # a nonlinear equality between two loadings and a defined parameter
  hs_nonlinear_eq = paste0("visual =~ x1 + a*x2 + b*x3", base,
                           "b == a^2 + 0.3\nab := a*b\n"),
  # a linear equality a == b (two free rows, one == row)
  hs_linear_eq = paste0("visual =~ x1 + a*x2 + b*x3", base, "a == b\nd := a - b\n"),
  # an active inequality (unconstrained c is about 1.11) and an inactive one
  hs_inequality = paste0("visual =~ x1 + a*x2 + b*x3\ntextual =~ x4 + c*x5 + x6\nspeed =~ x7 + x8 + x9\n",
                         "c < 1\nb > 0.2\nbc := b*c\n"),
  # a constraint on a := parameter (lavaan substitutes the definition)
  hs_defined_eq = paste0("visual =~ x1 + a*x2 + b*x3", base,
                         "s := a + b\ns == 1.5\n")
)

for (case in names(cases)) {
  model <- cases[[case]]
  writeLines(model, file.path(out, paste0(case, ".lav")))
  fit <- cfa(model, data = hs, estimator = "ML")
  pe <- parameterEstimates(fit)
  wcsv(pe, paste0(case, ".params.csv"))
  wcsv(parTable(fit), paste0(case, ".partable.csv"))
  fm <- fitMeasures(fit)
  wcsv(data.frame(name = names(fm), value = as.numeric(fm)), paste0(case, ".fit.csv"))
  V <- vcov(fit)
  wcsv(data.frame(name = rownames(V), unclass(V), check.names = FALSE), paste0(case, ".vcov.csv"))
  I <- lavInspect(fit, "information")
  wcsv(data.frame(name = rownames(I), unclass(I), check.names = FALSE), paste0(case, ".info.csv"))
  J <- fit@Model@con.jac
  inactive <- attr(J, "inactive.idx")
  cj <- data.frame(row = seq_len(nrow(J)), inactive = seq_len(nrow(J)) %in% inactive, J)
  wcsv(cj, paste0(case, ".conjac.csv"))
  wjson(list(R = R.version.string, lavaan = as.character(packageVersion("lavaan")),
             estimator = "ML", likelihood = "normal", information = "expected",
             model_type = "cfa", n = nobs(fit), converged = lavInspect(fit, "converged"),
             optim_method = fit@Options$optim.method, npar = as.numeric(fm[["npar"]]),
             df = as.numeric(fm[["df"]]), chisq = as.numeric(fm[["chisq"]]),
             fmin = as.numeric(fm[["fmin"]])),
        paste0(case, ".meta.json"))
  cat(case, ": chisq", fm[["chisq"]], "df", fm[["df"]], "npar", fm[["npar"]], "\n")
}
