# Replicate-weight reference figures for the sipas engine (analysis/replicates.py), computed with
# R's survey package: as.svrepdesign(type = "JK1" / "JKn" / "bootstrap" / "BRR").
#
#   Rscript tests/reference/oracle_replicates.R tests/reference/data tests/reference/out [dataset ...]
#
# Reuses the data reading of oracle.R (sourced without running its main()). Writes, per data set,
# <out>/<dataset>/replicates.csv (one row per type x design x domain x quantity) and the
# replicate multipliers R drew, so that the engine can use the same replicates:
# bootstrap_repweights.csv.gz and brr_repweights.csv.gz (stratum, psu, rep_1 ... rep_R).
# See tests/reference/README.md.

local({
  args <- commandArgs(trailingOnly = FALSE)
  me <- sub("^--file=", "", args[grep("^--file=", args)])
  src <- readLines(file.path(dirname(me), "oracle.R"))
  src <- src[seq_len(max(grep("^main <- function", src)) - 1)]  # everything but main()
  eval(parse(text = src), envir = globalenv())
})

BOOT_REPLICATES <- 50
SEED <- 20251121
REP_DOMAINS <- c("overall", "agency", "field")
REP_COLS <- c("type", "mse", "design", "domain_type", "domain", "quantity", "version", "est", "se",
              "n", "df", "error", "note")

# PSU multipliers of a replicate design (compressed repweights): stratum, psu, rep_1 ... rep_R.
repweights_table <- function(des, rdes) {
  first <- !duplicated(des$cluster[, 1])
  w <- rdes$repweights
  stopifnot(inherits(w, "repweights_compressed"))
  stopifnot(identical(w$index, match(des$cluster[, 1], des$cluster[first, 1])))
  out <- data.table(stratum = as.character(des$strata[first, 1]),
                    psu = as.character(des$cluster[first, 1]))
  for (r in seq_len(ncol(w$weights))) set(out, j = paste0("rep_", r), value = w$weights[, r])
  out
}

crit_rep_rows <- function(rdes, mask, item) {
  sj <- paste0("s_", item)
  dd <- rdes[mask & !is.na(rdes$variables[[sj]]), ]
  n <- as.double(sum(weights(dd, "sampling") != 0))
  if (n == 0) return(data.table(quantity = sj, n = 0, error = "no answers in the domain"))
  m <- run(svymean(as.formula(paste0("~", sj)), dd, na.rm = TRUE))
  data.table(quantity = sj, version = NA_character_,
             est = if (is.null(m$value)) NA_real_ else coef(m$value)[[1]],
             se = if (is.null(m$value)) NA_real_ else SE(m$value)[[1]],
             n = n, df = as.double(degf(dd)), error = m$error, note = na_if_empty(m$note))
}

index_rep_rows <- function(rdes, mask) {
  rows <- list()
  dd <- rdes[mask, ]
  tot <- run(svytotal(TOTALS_FORMULA, dd, return.replicates = TRUE))
  exprs <- INDEX_EXPRS[setdiff(names(INDEX_EXPRS), "FLAT")]
  for (k in names(exprs)) {
    # One contrast per call: svrVar drops a replicate where any of the contrasts of a call is NA
    # (e.g. e5 undefined in a replicate would drop it for e1 too).
    con <- if (is.null(tot$value)) tot else run(svycontrast(tot$value, exprs[k]))
    if (is.null(con$value)) {
      rows[[length(rows) + 1]] <- data.table(quantity = k, version = "A", error = con$error)
    } else {
      rows[[length(rows) + 1]] <- data.table(
        quantity = k, version = "A", est = coef(con$value)[[k]],
        se = sqrt(vcov(con$value)[k, k]),
        n = as.double(sum(weights(dd, "sampling") != 0)), df = as.double(degf(dd)),
        error = NA_character_, note = na_if_empty(con$note))
    }
    rv <- paste0("r_", k)
    db <- rdes[mask & !is.na(rdes$variables[[rv]]), ]
    m <- run(svymean(as.formula(paste0("~", rv)), db, na.rm = TRUE))
    rows[[length(rows) + 1]] <- data.table(
      quantity = k, version = "B",
      est = if (is.null(m$value)) NA_real_ else coef(m$value)[[1]],
      se = if (is.null(m$value)) NA_real_ else SE(m$value)[[1]],
      n = as.double(sum(weights(db, "sampling") != 0)), df = as.double(degf(db)),
      error = m$error, note = na_if_empty(m$note))
  }
  rbindlist(rows, fill = TRUE)
}

rep_table <- function(rdes, type, design_name, mse) {
  out <- list()
  for (dt_name in REP_DOMAINS) {
    masks <- domain_masks(rdes$variables, dt_name)
    for (dom in names(masks)) {
      rows <- c(lapply(ITEMS, function(j) crit_rep_rows(rdes, masks[[dom]], j)),
                list(index_rep_rows(rdes, masks[[dom]])))
      r <- rbindlist(rows, fill = TRUE)
      r[, `:=`(type = type, mse = mse, design = design_name, domain_type = dt_name, domain = dom)]
      out[[length(out) + 1]] <- r
    }
  }
  out
}

# Agencies with at least two counters, keeping their first two counters (sorted): a design with
# exactly two PSUs per stratum, for BRR.
two_psu_subset <- function(d) {
  keep <- unlist(lapply(split(d$counter_code, d$agency_code), function(cs) {
    u <- sort(unique(cs))
    if (length(u) >= 2) u[1:2] else character(0)
  }))
  d[d$counter_code %in% keep, ]
}

process_replicates <- function(name, data_dir, out_dir) {
  t0 <- proc.time()[["elapsed"]]
  x <- read_dataset(file.path(data_dir, name))
  d <- x$d
  od <- file.path(out_dir, name)
  dir.create(od, recursive = TRUE, showWarnings = FALSE)
  strat_clus <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight, data = d)
  clus <- svydesign(ids = ~counter_code, weights = ~weight, data = d)
  d2 <- two_psu_subset(d)
  pairs <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight, data = d2)

  rows <- list()
  add <- function(r) rows <<- c(rows, r)
  add(rep_table(as.svrepdesign(clus, type = "JK1"), "jk1", "clus", FALSE))
  add(rep_table(as.svrepdesign(strat_clus, type = "JKn"), "jkn", "strat_clus", FALSE))
  add(rep_table(as.svrepdesign(strat_clus, type = "JKn", mse = TRUE), "jkn", "strat_clus", TRUE))
  set.seed(SEED)
  boot <- as.svrepdesign(strat_clus, type = "bootstrap", replicates = BOOT_REPLICATES)
  write_long(list(repweights_table(strat_clus, boot)), file.path(od, "bootstrap_repweights.csv.gz"))
  add(rep_table(boot, "bootstrap", "strat_clus", FALSE))
  brr <- as.svrepdesign(pairs, type = "BRR")
  write_long(list(repweights_table(pairs, brr)), file.path(od, "brr_repweights.csv.gz"))
  add(rep_table(brr, "brr", "pairs", FALSE))
  out <- ordered(rbindlist(rows, fill = TRUE), REP_COLS)
  n <- write_long(list(out), file.path(od, "replicates.csv.gz"))
  cat(sprintf("[%s] replicates: %d rows, %.1f s\n", name, n, proc.time()[["elapsed"]] - t0))
}

main_replicates <- function() {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) < 2) stop("usage: Rscript oracle_replicates.R <data_dir> <out_dir> [dataset ...]")
  names <- if (length(args) > 2) args[-(1:2)] else c("base", "lonely")
  for (nm in names) process_replicates(nm, args[1], args[2])
}

main_replicates()
