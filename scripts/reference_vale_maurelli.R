# lavaan's own Vale-Maurelli solutions (Fleishman coefficients and intermediate
# correlations), for tests/test_generate_nonnormal.py.
#
#   Rscript scripts/reference_vale_maurelli.R
#
# Input: tests/reference/vale_maurelli_input.csv (written by
# scripts/reference_vale_maurelli_input.py): the thesis population's implied item
# correlation matrix, with the skewness and excess kurtosis targets of each item in the
# first two columns. The two solvers are taken from lavaan:::ValeMaurelli1983 itself
# (its nested functions evaluated from its body), so nothing is re-typed here.
suppressMessages(library(lavaan))
inp <- read.csv("tests/reference/vale_maurelli_input.csv", check.names = FALSE)
items <- inp$item
SK <- inp$skewness
KU <- inp$kurtosis
COR <- as.matrix(inp[, items])
env <- new.env()
for (e in as.list(body(lavaan:::ValeMaurelli1983))[-1]) {
  if (is.call(e) && identical(e[[1]], as.name("<-")) &&
      as.character(e[[2]]) %in% c("fleishman1978_abcd", "getICOV")) eval(e, env)
}
FTable <- t(sapply(seq_along(items), function(i) env$fleishman1978_abcd(SK[i], KU[i])))
ICOR <- diag(length(items))
for (j in 1:(length(items) - 1L)) for (i in (j + 1):length(items)) {
  ICOR[i, j] <- ICOR[j, i] <- env$getICOV(FTable[i, 2], FTable[i, 3], FTable[i, 4],
                                          FTable[j, 2], FTable[j, 3], FTable[j, 4], R = COR[i, j])
}
coef <- data.frame(item = items, skewness = SK, kurtosis = KU, a = FTable[, 1], b = FTable[, 2],
                   c = FTable[, 3], d = FTable[, 4])
write.csv(coef, "tests/reference/vale_maurelli_coefficients.csv", row.names = FALSE)
icor <- data.frame(item = items, ICOR)
names(icor) <- c("item", items)
write.csv(icor, "tests/reference/vale_maurelli_intermediate.csv", row.names = FALSE)
# write.csv keeps 15 significant digits: more than the solvers' accuracy (see the test).
meta <- sprintf('{\n  "lavaan_version": "%s",\n  "R_version": "%s",\n  "source": "lavaan:::ValeMaurelli1983, its nested fleishman1978_abcd and getICOV (nlminb; start b,c,d = 1,0,0 and rho = target r)",\n  "input": "tests/reference/vale_maurelli_input.csv",\n  "script": "scripts/reference_vale_maurelli.R"\n}',
                as.character(packageVersion("lavaan")), R.version.string)
writeLines(meta, "tests/reference/vale_maurelli.meta.json")
