# lavaan references for smsem's "after the fit" diagnostics and model comparison
# (tests/test_diagnostics.py, tests/test_compare.py).
#
#   Rscript scripts/lavaan_after_reference.R          (from the repository root)
#
# Writes to tests/reference/lavaan_after/, for each case (integrative, poldem; complete data,
# lavaan defaults: sem(), ML, likelihood = "normal", information = "expected"):
#   <case>.r2.csv         lavInspect(fit, "r2")                            (name, r2)
#   <case>.resid_<type>.csv  lavResiduals(fit, type = <type>)$cov  (raw, cor.bollen, cor.bentler), long form
#   <case>.resid_z.csv    lavResiduals(fit, type = "raw")$cov.z  (standardized, lavaan's default z.type);
#                         <case>.resid_<type>_z.csv the same for the correlation residuals
#   <case>.resid_summary*.csv  lavResiduals(fit, type = "cor.bollen" / "raw" / "cor.bentler")$summary
# Cases: integrative (models/integrative.lav on the committed survey), poldem (Bollen's
# PoliticalDemocracy with residual covariances), covariates (observed covariates, fixed.x),
# hs_constraints (an equality constraint and a user-fixed covariance), hs_regressed_indicator
# (x4 ~ x1 between two indicators).
#   <case>.mi.csv         modindices(fit, sort. = TRUE)
#   <case>.fit.csv        selected fitMeasures()
# and the comparisons (integrative vs integrative_no_direct):
#   compare_<estimator>.csv  lavTestLRT(...) (ML, MLM satorra.bentler.2001 / 2010, MLR)
#   vuong_casewise.csv       casewise log-likelihoods of both models (lavInspect "loglik.casewise")
#   vuong.csv, vuong_nonnested.csv  Vuong tests (nonnest2's formulas, written out below)
suppressPackageStartupMessages(library(lavaan))

out <- file.path("tests", "reference", "lavaan_after")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
wcsv <- function(df, name) write.csv(df, file.path(out, name), row.names = FALSE, na = "")
read_model <- function(path) paste(readLines(path), collapse = "\n")

long <- function(m) {
  v <- rownames(m); rows <- list()
  for (j in seq_along(v)) for (i in j:length(v)) rows[[length(rows) + 1]] <- data.frame(lhs = v[i], rhs = v[j], value = m[i, j])
  do.call(rbind, rows)
}

cases <- list(
  integrative = list(model = "models/integrative.lav", data = "data/synthetic/integrative_n300_seed1.csv"),
  poldem = list(model = "tests/reference/lavaan/poldem.lav", data = "tests/reference/lavaan/PoliticalDemocracy.csv"),
  # observed covariates (SIZE, TENURE) of latent variables: lavaan's fixed.x
  covariates = list(model = "tests/reference/lavaan/integrative_covariates.lav",
                    data = "tests/reference/lavaan/integrative_covariates.csv"),
  # an equality constraint and a user-fixed covariance (tested by modindices)
  hs_constraints = list(model = "tests/reference/lavaan_after/hs_constraints.lav",
                        data = "tests/reference/lavaan/HolzingerSwineford1939.csv"),
  # an indicator that is also a regressor (x4 ~ x1): its covariances with the other items
  # are candidates of modindices (smsem left them out before)
  hs_regressed_indicator = list(model = "tests/reference/lavaan_after/hs_regressed_indicator.lav",
                                data = "tests/reference/lavaan/HolzingerSwineford1939.csv")
)
for (case in names(cases)) {
  cs <- cases[[case]]
  d <- read.csv(cs$data)
  fit <- sem(read_model(cs$model), data = d)
  r2 <- lavInspect(fit, "r2")
  wcsv(data.frame(name = names(r2), r2 = unname(r2)), paste0(case, ".r2.csv"))
  raw <- lavResiduals(fit, type = "raw")
  bol <- lavResiduals(fit, type = "cor.bollen")
  wcsv(long(raw$cov), paste0(case, ".resid_raw.csv"))
  wcsv(long(raw$cov.z), paste0(case, ".resid_z.csv"))
  wcsv(long(bol$cov), paste0(case, ".resid_cor.bollen.csv"))
  wcsv(long(bol$cov.z), paste0(case, ".resid_cor.bollen_z.csv"))
  sb <- bol$summary; sr <- raw$summary
  wcsv(data.frame(type = "cor.bollen", stat = rownames(sb), value = sb[, "cov"]), paste0(case, ".resid_summary.csv"))
  wcsv(data.frame(type = "raw", stat = rownames(sr), value = sr[, "cov"]), paste0(case, ".resid_summary_raw.csv"))
  ben <- lavResiduals(fit, type = "cor.bentler")
  wcsv(long(ben$cov), paste0(case, ".resid_cor.bentler.csv"))
  wcsv(long(ben$cov.z), paste0(case, ".resid_cor.bentler_z.csv"))
  sben <- ben$summary
  wcsv(data.frame(type = "cor.bentler", stat = rownames(sben), value = sben[, "cov"]), paste0(case, ".resid_summary_bentler.csv"))
  mi <- modindices(fit, sort. = TRUE)
  wcsv(as.data.frame(mi), paste0(case, ".mi.csv"))
  fm <- fitMeasures(fit, c("chisq", "df", "aic", "bic", "bic2", "logl", "npar", "srmr"))
  wcsv(data.frame(name = names(fm), value = unname(fm)), paste0(case, ".fit.csv"))
}

# --- model comparison: the essay's model vs the model without the facilitators' direct paths
d <- read.csv("data/synthetic/integrative_n300_seed1.csv")
ma <- read_model("models/integrative.lav")
mb <- read_model("models/integrative_no_direct.lav")
rows <- list()
for (est in c("ML", "MLM", "MLR")) {
  fa <- sem(ma, data = d, estimator = est)
  fb <- sem(mb, data = d, estimator = est)
  methods <- if (est == "MLM") c("satorra.bentler.2001", "satorra.bentler.2010") else if (est == "MLR") c("satorra.bentler.2001") else c("default")
  for (meth in methods) {
    t <- if (meth == "default") lavTestLRT(fa, fb) else lavTestLRT(fa, fb, method = meth)
    t <- as.data.frame(t)
    rows[[length(rows) + 1]] <- data.frame(estimator = est, method = meth, model = c("a", "b"),
      df = t$Df, aic = t$AIC, bic = t$BIC, chisq = t$Chisq, chisq_diff = t[["Chisq diff"]],
      df_diff = t[["Df diff"]], p = t[["Pr(>Chisq)"]])
  }
}
rows <- do.call(rbind, rows)
fa <- sem(ma, data = d); fb <- sem(mb, data = d)
rows$bic2 <- ifelse(rows$model == "a", fitMeasures(fa, "bic2"), fitMeasures(fb, "bic2"))
rows$logl <- ifelse(rows$model == "a", fitMeasures(fa, "logl"), fitMeasures(fb, "logl"))
wcsv(rows, "compare.csv")
wcsv(data.frame(a = lavInspect(fa, "loglik.casewise"), b = lavInspect(fb, "loglik.casewise")), "vuong_casewise.csv")

meta <- c(R = R.version.string, lavaan = as.character(packageVersion("lavaan")),
          options = "sem(), estimator ML (MLM/MLR in compare.csv), likelihood normal (N divisor), information expected, complete data")
writeLines(paste0(names(meta), ": ", meta), file.path(out, "meta.txt"))

# --- Vuong (1989) tests as nonnest2::vuongtest (Merkle, You & Preacher 2016) -----------------
# nonnest2 and CompQuadForm are not installable here (not in Debian's archive, no CRAN
# access), so its formulas are written out below for lavaan objects: casewise
# log-likelihoods (lavInspect "loglik.casewise"), scores (lavScores = estfun), A = (N vcov)^-1,
# B = crossprod(scores) / N, W of Vuong's eq. (3.6), and Imhof's (1961) integral for the
# weighted chi-square p-values, by R's integrate().
imhof_upper <- function(q, lambda) {
  f <- function(u) {
    th <- 0.5 * colSums(atan(outer(lambda, u))) - 0.5 * q * u
    rho <- exp(colSums(log1p(outer(lambda^2, u^2))) / 4)
    sin(th) / (u * rho)
  }
  0.5 + integrate(f, 0, Inf, rel.tol = 1e-9, abs.tol = 1e-10, subdivisions = 100000L)$value / pi
}
vuong <- function(f1, f2, nested = FALSE) {
  llA <- lavInspect(f1, "loglik.casewise"); llB <- lavInspect(f2, "loglik.casewise")
  if (nested && sum(llB) > sum(llA)) { t <- f1; f1 <- f2; f2 <- t; t <- llA; llA <- llB; llB <- t }
  n <- length(llA)
  omega2 <- (n - 1) / n * var(llA - llB)
  ab <- function(f) {
    A <- chol2inv(chol(n * vcov(f))); sc <- lavScores(f)
    list(A = A, B = crossprod(sc) / n, sc = sc)
  }
  a1 <- ab(f1); a2 <- ab(f2); Bc <- crossprod(a1$sc, a2$sc) / n
  W <- cbind(rbind(-a1$B %*% chol2inv(chol(a1$A)), t(Bc) %*% chol2inv(chol(a1$A))),
             rbind(-Bc %*% chol2inv(chol(a2$A)), a2$B %*% chol2inv(chol(a2$A))))
  lam <- Re(eigen(W, only.values = TRUE)$values)
  p_omega <- imhof_upper(n * omega2, lam^2)
  lr <- sum(llA - llB)
  z <- lr / (sqrt(n) * sqrt(omega2))
  out <- data.frame(nested = nested, n = n, omega2 = omega2, p_omega = p_omega, lr = lr, z = z,
                    p_A = pnorm(z, lower.tail = FALSE), p_B = pnorm(z))
  if (nested) { out$lr2 <- 2 * lr; out$p_nested <- imhof_upper(2 * lr, -lam) } else { out$lr2 <- NA; out$p_nested <- NA }
  out
}
fa <- sem(ma, data = d); fb <- sem(mb, data = d)
wcsv(rbind(vuong(fa, fb, FALSE), vuong(fa, fb, TRUE), vuong(fb, fa, FALSE)), "vuong.csv")
# a pair of non-nested models: the facilitators acting on IC only, or on EA only
m_ic <- sub("EA ~ IC + COM + MA", "EA ~ IC", ma, fixed = TRUE)
m_ea <- sub("IC ~ IS + SL + COM + MA", "IC ~ IS + SL", ma, fixed = TRUE)
writeLines(m_ic, file.path(out, "integrative_direct_ic.lav")); writeLines(m_ea, file.path(out, "integrative_direct_ea.lav"))
wcsv(vuong(sem(m_ic, data = d), sem(m_ea, data = d), FALSE), "vuong_nonnested.csv")
# sanity of imhof_upper: equal weights 1 give the chi-square with length(lambda) df
stopifnot(abs(imhof_upper(7.3, rep(1, 4)) - pchisq(7.3, 4, lower.tail = FALSE)) < 1e-8)
