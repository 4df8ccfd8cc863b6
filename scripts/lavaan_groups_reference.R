# Multiple-group references from lavaan for smsem's parameter table (issue 12/14).
#
#   Rscript scripts/lavaan_groups_reference.R      (from the repository root)
#
# For each case writes to tests/reference/lavaan_groups/:
#   <case>.lav            the model syntax
#   <case>.partable.csv   parTable(fit): id lhs op rhs user block group free ustart exo label plabel est se
#   <case>.fit.csv        fitMeasures(fit) (name, value)
#   <case>.meta.json      the call: group.equal, group.partial, std.lv, lavaan and R versions
# Data: HolzingerSwineford1939 (tests/reference/lavaan_models/HolzingerSwineford1939.csv,
# school coded 1 = Grant-White, 2 = Pasteur), grouped by school.
suppressPackageStartupMessages(library(lavaan))
out <- file.path("tests", "reference", "lavaan_groups")
dir.create(out, recursive = TRUE, showWarnings = FALSE)
data_file <- file.path("tests", "reference", "lavaan_models", "HolzingerSwineford1939.csv")
hs <- read.csv(data_file)

hs3 <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
sem3 <- paste0(hs3, "textual ~ visual\nspeed ~ textual\n")
partial_model <- paste0("visual =~ x1 + x2 + x3\ntextual =~ x4 + c(a1, a2)*x5 + x6\n",
                        "speed =~ x7 + x8 + c(1, NA)*x9\nvisual ~~ c(0.5, NA)*speed\n")
cases <- list(
  list(case = "mg_configural", model = hs3, group.equal = character(0)),
  list(case = "mg_metric", model = hs3, group.equal = "loadings"),
  list(case = "mg_scalar", model = hs3, group.equal = c("loadings", "intercepts")),
  list(case = "mg_strict", model = hs3, group.equal = c("loadings", "intercepts", "residuals")),
  list(case = "mg_means", model = hs3, group.equal = c("loadings", "intercepts", "means")),
  list(case = "mg_partial", model = partial_model, group.equal = c("loadings", "intercepts"),
       group.partial = c("visual=~x3", "x1~1")),
  list(case = "mg_metric_stdlv", model = hs3, group.equal = "loadings", std.lv = TRUE),
  list(case = "mg_structural", model = sem3,
       group.equal = c("loadings", "intercepts", "regressions", "lv.variances", "lv.covariances",
                       "residual.covariances")),
  list(case = "mg_shared_label", model = "visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6\n",
       group.equal = character(0))
)
jstr <- function(x) {
  if (is.logical(x)) return(tolower(as.character(x)))
  if (is.numeric(x)) return(format(x, digits = 15))
  if (length(x) != 1) return(paste0("[", paste0('"', x, '"', collapse = ", "), "]"))
  paste0('"', gsub('"', '\\\\"', as.character(x)), '"')
}
for (cs in cases) {
  gp <- if (is.null(cs$group.partial)) character(0) else cs$group.partial
  std_lv <- isTRUE(cs$std.lv)
  ge <- if (length(cs$group.equal)) cs$group.equal else ""
  gp_arg <- if (length(gp)) gp else ""
  fit <- suppressWarnings(cfa(cs$model, data = hs, group = "school", group.equal = ge,
                              group.partial = gp_arg, std.lv = std_lv))
  writeLines(cs$model, file.path(out, paste0(cs$case, ".lav")))
  pt <- parTable(fit)[, c("id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo",
                          "label", "plabel", "est", "se")]
  write.csv(pt, file.path(out, paste0(cs$case, ".partable.csv")), row.names = FALSE, na = "")
  fm <- fitMeasures(fit)
  write.csv(data.frame(name = names(fm), value = as.numeric(fm)), file.path(out, paste0(cs$case, ".fit.csv")),
            row.names = FALSE, na = "")
  meta <- list(case = cs$case, data = data_file, group = "school",
               group_equal = if (length(cs$group.equal)) cs$group.equal else "",
               group_partial = if (length(gp)) gp else "", std_lv = std_lv,
               call = "cfa(model, data, group = \"school\", group.equal = ..., group.partial = ..., std.lv = ...)",
               lavaan_version = as.character(packageVersion("lavaan")), r_version = R.version.string,
               ngroups = lavInspect(fit, "ngroups"), converged = lavInspect(fit, "converged"))
  body <- paste0('  "', names(meta), '": ', vapply(meta, jstr, ""), collapse = ",\n")
  writeLines(paste0("{\n", body, "\n}"), file.path(out, paste0(cs$case, ".meta.json")))
  cat("wrote", cs$case, "\n")
}
