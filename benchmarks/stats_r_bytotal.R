#!/usr/bin/env Rscript
# R `survey`, fastest form: the 44 totals per domain + svycontrast.
#
# s0_j = 1{code 4 or 5}, a_j = 1{code 1..5} (0 = not applicable and skipped leave the
# denominator). For every domain (agency, then field): svytotal(~s0_1+...+s0_22+a_1+...+a_22)
# on the domain's subset of the full design (what svyby does for each group), then ONE
# svycontrast on that domain's 44 totals and their covariance: the 22 criterion shares
# s0_j/a_j, the factor indices (mean of the factor's shares: e1 = items e1_*, ...) and the SIPAS
# index (mean of the factor indices). Design: strata = agency, PSU = counter, weights = weight.
#
# MODE "svyby-covmat" runs the textbook form instead: svyby(~totals, ~agency_code, design,
# svytotal, covmat = TRUE) then the same per-domain svycontrast on blocks of its covariance.
# survey 4.1-1 builds an n x (44 x domains) influence matrix for covmat = TRUE (about 10 GB at
# 1M responses x 30 agencies) and takes ~70x longer, so it is only usable on small files; the
# estimates and SEs are the same.
#
# Prints "TIMING <step> <seconds>" lines and writes est, se (%.17g) to OUT.
# Usage: Rscript benchmarks/stats_r_bytotal.R responses.csv out.csv [per-domain|svyby-covmat]
suppressPackageStartupMessages({
  library(data.table)
  library(survey)
})
args <- commandArgs(trailingOnly = TRUE)
if (!(length(args) %in% 2:3)) {
  stop("usage: stats_r_bytotal.R RESPONSES.csv OUT.csv [per-domain|svyby-covmat]")
}
csv <- args[[1]]
out <- args[[2]]
mode <- if (length(args) == 3) args[[3]] else "per-domain"
if (!(mode %in% c("per-domain", "svyby-covmat"))) stop("unknown mode: ", mode)
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
  valid <- !is.na(q) & q >= 1 & q <= 5
  set(d, j = paste0("s0_", it), value = as.numeric(valid & q >= 4))
  set(d, j = paste0("a_", it), value = as.numeric(valid))
}
t2 <- clock(); timing("prep", t2 - t1)

design <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight, data = d,
                    nest = TRUE)
t3 <- clock(); timing("design", t3 - t2)

factors <- split(items, sub("_[0-9]+$", "", items))
totals <- as.formula(paste("~", paste(c(paste0("s0_", items), paste0("a_", items)),
                                      collapse = " + ")))
mean_of <- function(calls) {
  call("/", Reduce(function(a, b) call("+", a, b), calls), length(calls))
}
share <- lapply(items, function(it) {
  call("/", as.name(paste0("s0_", it)), as.name(paste0("a_", it)))
})
names(share) <- items
factor_index <- lapply(factors, function(f) mean_of(share[f]))
exprs <- c(share, factor_index, list(sipas = mean_of(factor_index)))
quantity <- c(rep("criterion", length(items)), rep("factor", length(factors)), "sipas")

# The totals of every domain of `by`, as a list of svystat objects named by domain.
domain_totals <- function(by) {
  if (mode == "per-domain") {
    values <- d[[by]]
    domains <- sort(unique(values))
    stats <- lapply(domains, function(dom) svytotal(totals, design[values == dom, ]))
    names(stats) <- domains
    return(stats)
  }
  tot <- svyby(totals, make.formula(by), design, svytotal, covmat = TRUE)
  all_coef <- coef(tot)
  all_var <- vcov(tot)
  domains <- as.character(tot[[by]])
  stats <- lapply(domains, function(dom) {
    idx <- startsWith(names(all_coef), paste0(dom, ":"))
    stat <- all_coef[idx]
    names(stat) <- sub("^[^:]*:", "", names(stat))
    attr(stat, "var") <- all_var[idx, idx, drop = FALSE]
    class(stat) <- "svystat"
    stat
  })
  names(stats) <- domains
  stats
}

rows <- list()
for (by in c("agency_code", "field_code")) {
  ts <- clock()
  stats <- domain_totals(by)
  tc <- clock(); timing(paste0("totals_", by), tc - ts)
  for (dom in names(stats)) {
    con <- svycontrast(stats[[dom]], exprs)
    rows[[length(rows) + 1]] <- data.table(
      by = by, domain = dom, quantity = quantity, name = names(exprs),
      est = as.numeric(coef(con)), se = sqrt(pmax(diag(vcov(con)), 0)))
  }
  timing(paste0("svycontrast_", by), clock() - tc)
}
t4 <- clock(); timing("estimate", t4 - t3)

res <- rbindlist(rows)
res[, `:=`(est = sprintf("%.17g", est), se = sprintf("%.17g", se))]
fwrite(res, out)
timing("total", clock() - t0)
cat(sprintf("ROWS %d\n", nrow(res)))
