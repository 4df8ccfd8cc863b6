# Reference values for tests/test_engine_partable.py: lavaan's parTable(), parameterEstimates()
# (with std.all / std.lv) and fitMeasures() for models that exercise the table-driven ML engine.
# Run from the repository root:  Rscript scripts/lavaan_engine_reference.R
suppressPackageStartupMessages(library(lavaan))
out <- "tests/reference/lavaan_engine"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
dir.create("tests/reference/lavaan_models", showWarnings = FALSE, recursive = TRUE)
write.csv(Demo.growth, "tests/reference/lavaan_models/Demo.growth.csv", row.names = FALSE)
HS <- HolzingerSwineford1939
HS$sex <- as.numeric(HS$sex)

HSmiss <- HS
HSmiss$x1[seq(7, nrow(HS), by = 7)] <- NA
HSmiss$x5[seq(5, nrow(HS), by = 11)] <- NA
HSmiss$x9[seq(3, nrow(HS), by = 13)] <- NA
HSmiss$ageyr[seq(2, nrow(HS), by = 17)] <- NA
PDmiss <- PoliticalDemocracy
PDmiss$y1[seq(4, nrow(PDmiss), by = 6)] <- NA
PDmiss$y5[seq(2, nrow(PDmiss), by = 9)] <- NA
write.csv(HSmiss[, c(paste0("x", 1:9), "sex", "ageyr")], file.path(out, "HS_missing.csv"), row.names = FALSE,
          na = "")
write.csv(PDmiss, file.path(out, "PD_missing.csv"), row.names = FALSE, na = "")
HS3 <- '
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9'
HSCOV <- paste(HS3, '
    visual ~ sex + ageyr
    textual ~ sex + ageyr
    speed ~ sex + ageyr')
PATH <- '
    y1 ~ x1 + x2
    y5 ~ y1 + x1
    y2 ~ y1'
cases <- list(
  hs_constraints = list(fun = "cfa", data = HS, args = list(), model = '
    visual  =~ x1 + a*x2 + b*x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + c*x8 + x9
    b == a^2 + 0.3
    c < 1
    ab := a*b'),
  path_defined = list(fun = "sem", data = PoliticalDemocracy, args = list(), model = '
    y1 ~ a*x1 + x2
    y5 ~ b*y1 + c*x1
    y2 ~ y1
    ind := a*b
    total := c + a*b'),
  hs3_mlm = list(fun = "cfa", data = HS, args = list(estimator = "MLM"), model = HS3),
  hs3_means_mlm = list(fun = "cfa", data = HS, args = list(estimator = "MLM", meanstructure = TRUE), model = HS3),
  hs3_mlr = list(fun = "cfa", data = HS, args = list(estimator = "MLR"), model = HS3),
  hs3_means_mlr = list(fun = "cfa", data = HS, args = list(estimator = "MLR", meanstructure = TRUE), model = HS3),
  hs_covariates_mlm = list(fun = "sem", data = HS, args = list(estimator = "MLM"), model = HSCOV),
  hs_covariates_mlr = list(fun = "sem", data = HS, args = list(estimator = "MLR"), model = HSCOV),
  path_mlr = list(fun = "sem", data = PoliticalDemocracy, args = list(estimator = "MLR"), model = PATH),
  hs3_fiml = list(fun = "cfa", data = HSmiss, args = list(missing = "ml"), model = HS3),
  hs_covariates_fiml = list(fun = "sem", data = HSmiss, args = list(missing = "ml"), model = HSCOV),
  hs_covariates_fiml_mlr = list(fun = "sem", data = HSmiss, args = list(missing = "ml", estimator = "MLR"),
                                model = HSCOV),
  path_fiml = list(fun = "sem", data = PDmiss, args = list(missing = "ml"), model = PATH),
  growth_fiml = list(fun = "growth", data = Demo.growth, args = list(missing = "ml"), model = '
    i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4
    s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4'),
  hs3 = list(fun = "cfa", data = HS, args = list(), model = '
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9'),
  hs3_means = list(fun = "cfa", data = HS, args = list(meanstructure = TRUE), model = '
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9'),
  hs_stdlv_na = list(fun = "cfa", data = HS, args = list(), model = '
    visual  =~ NA*x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9
    visual ~~ 1*visual'),
  hs_second_order = list(fun = "cfa", data = HS, args = list(), model = '
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9
    g =~ visual + textual + speed'),
  hs_labels = list(fun = "cfa", data = HS, args = list(), model = '
    visual  =~ x1 + a*x2 + a*x3
    textual =~ x4 + b*x5 + b*x6
    speed   =~ x7 + x8 + x9'),
  hs_covariates = list(fun = "sem", data = HS, args = list(), model = '
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    speed   =~ x7 + x8 + x9
    visual ~ sex + ageyr
    textual ~ sex + ageyr
    speed ~ sex + ageyr'),
  poldem = list(fun = "sem", data = PoliticalDemocracy, args = list(),
                model = paste(readLines("tests/reference/lavaan/poldem.lav"), collapse = "\n")),
  poldem_means = list(fun = "sem", data = PoliticalDemocracy, args = list(meanstructure = TRUE),
                model = paste(readLines("tests/reference/lavaan/poldem.lav"), collapse = "\n")),
  poldem_labels = list(fun = "sem", data = PoliticalDemocracy, args = list(), model = '
    ind60 =~ x1 + x2 + x3
    dem60 =~ y1 + a*y2 + b*y3 + c*y4
    dem65 =~ y5 + a*y6 + b*y7 + c*y8
    dem60 ~ ind60
    dem65 ~ ind60 + dem60
    y1 ~~ y5
    y2 ~~ y4 + y6
    y3 ~~ y7
    y4 ~~ y8
    y6 ~~ y8'),
  path = list(fun = "sem", data = PoliticalDemocracy, args = list(), model = '
    y1 ~ x1 + x2
    y5 ~ y1 + x1
    y2 ~ y1'),
  path_means = list(fun = "sem", data = PoliticalDemocracy, args = list(meanstructure = TRUE), model = '
    y1 ~ x1 + x2
    y5 ~ y1 + x1'),
  growth = list(fun = "growth", data = Demo.growth, args = list(), model = '
    i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4
    s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4'),
  growth_cov = list(fun = "growth", data = Demo.growth, args = list(), model = '
    i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4
    s =~ 0*t1 + 1*t2 + 2*t3 + 3*t4
    i ~ x1 + x2
    s ~ x1 + x2')
)
for (nm in names(cases)) {
  cs <- cases[[nm]]
  fit <- do.call(cs$fun, c(list(model = cs$model, data = cs$data), cs$args))
  writeLines(cs$model, file.path(out, paste0(nm, ".lav")))
  pt <- parTable(fit)
  pt$est <- NULL; pt$se <- NULL
  write.csv(pt, file.path(out, paste0(nm, ".partable.csv")), row.names = FALSE, na = "")
  nm_ov <- lavNames(fit, "ov"); nm_lv <- lavNames(fit, "lv"); nm_x <- lavNames(fit, "ov.x")
  writeLines(c(paste(c("ov", nm_ov), collapse = ","), paste(c("lv", nm_lv), collapse = ","),
               paste(c("ov.x", nm_x), collapse = ","),
               paste("meanstructure", as.integer(lavInspect(fit, "meanstructure")), sep = ",")),
             file.path(out, paste0(nm, ".names.txt")))
  pe <- parameterEstimates(fit, standardized = TRUE)
  write.csv(pe, file.path(out, paste0(nm, ".params.csv")), row.names = FALSE, na = "")
  fm <- fitMeasures(fit)
  write.csv(data.frame(name = names(fm), value = as.numeric(fm)), file.path(out, paste0(nm, ".fit.csv")),
            row.names = FALSE)
}
write.csv(HS[, c(paste0("x", 1:9), "sex", "ageyr")], file.path(out, "HS.csv"), row.names = FALSE)
cat(sprintf("lavaan %s\n", packageVersion("lavaan")), file = file.path(out, "VERSION"))
