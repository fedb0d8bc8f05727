#!/usr/bin/env Rscript
# Idiomatic R `survey`: one svyby(svymean) per item and domain variable.
#
# For each of the 22 items s_j (1 = satisfied (code 4 or 5), 0 = valid but not satisfied,
# NA = not applicable (0) or skipped): svyby(~s_j, ~agency_code, subset(design, !is.na(s_j)),
# svymean), and the same by field_code. Design: strata = agency, PSU = counter, weights = weight
# (ultimate-cluster, with replacement). Prints "TIMING <step> <seconds>" lines and writes the
# estimates (est, se with %.17g) to OUT.
#
# Usage: Rscript benchmarks/stats_r_byloop.R responses.csv out.csv
suppressPackageStartupMessages({
  library(data.table)
  library(survey)
})
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2) stop("usage: stats_r_byloop.R RESPONSES.csv OUT.csv")
csv <- args[[1]]
out <- args[[2]]
options(survey.lonely.psu = "fail")
data.table::setDTthreads(1)
clock <- function() proc.time()[["elapsed"]]
timing <- function(step, t) cat(sprintf("TIMING %s %.3f\n", step, t))

t0 <- clock()
header <- names(fread(csv, nrows = 0))
items <- grep("^e[0-9]+_[0-9]+$", header, value = TRUE)
d <- fread(csv, select = c("agency_code", "counter_code", "field_code", "weight", items),
           showProgress = FALSE)
t1 <- clock(); timing("read", t1 - t0)

for (it in items) {
  q <- d[[it]]
  s <- as.numeric(q >= 4)
  s[is.na(q) | q < 1 | q > 5] <- NA_real_
  set(d, j = paste0("s_", it), value = s)
}
t2 <- clock(); timing("prep", t2 - t1)

design <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight, data = d,
                    nest = TRUE)
t3 <- clock(); timing("design", t3 - t2)

rows <- list()
for (it in items) {
  s <- paste0("s_", it)
  answered <- eval(bquote(subset(design, !is.na(.(as.name(s))))))
  for (by in c("agency_code", "field_code")) {
    r <- svyby(make.formula(s), make.formula(by), answered, svymean)
    rows[[length(rows) + 1]] <- data.table(
      by = by, domain = as.character(r[[by]]), quantity = "criterion", name = it,
      est = as.numeric(coef(r)), se = as.numeric(SE(r)))
  }
}
t4 <- clock(); timing("estimate", t4 - t3)

res <- rbindlist(rows)
res[, `:=`(est = sprintf("%.17g", est), se = sprintf("%.17g", se))]
fwrite(res, out)
timing("total", clock() - t0)
cat(sprintf("ROWS %d\n", nrow(res)))
