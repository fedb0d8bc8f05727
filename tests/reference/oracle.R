# Reference figures ("oracle") for the sipas statistics engine, computed with R's survey package.
#
#   Rscript tests/reference/oracle.R tests/reference/data tests/reference/out [dataset ...]
#
# Reads <data>/<dataset>/{responses,frame,margins_agency,margins_field}.csv written by
# make_data.py and writes long CSVs to <out>/<dataset>/ (see tests/reference/README.md).
# Every R error is caught and written as a row with an `error` column; warnings go to `note`.
# Doubles are written with sprintf("%.17g").

suppressPackageStartupMessages({
  library(survey)
  library(data.table)
})
options(digits = 17, warn = 1, survey.lonely.psu = "certainty",
        survey.adjust.domain.lonely = FALSE)

MAIN_LONELY <- "certainty"
ITEMS <- c(sprintf("e1_%d", 1:4), sprintf("e2_%d", 1:5), sprintf("e3_%d", 1:6),
           sprintf("e4_%d", 1:3), sprintf("e5_%d", 1:4))
FACTORS <- split(ITEMS, sub("_.*", "", ITEMS))
ALPHA <- 0.05
CI_METHODS <- c("wald_z", "mean", "xlogit", "beta", "asin", "wilson")
FULL_METHODS <- c("wald_z", "mean", "xlogit", "logit", "beta", "asin", "wilson")
CIPROP_CHECK <- new.env()
CIPROP_CHECK$max_abs_diff <- 0
CIPROP_CHECK$n <- 0
CIPROP_CHECK$deff_rel <- 0
CIPROP_CHECK$deff_n <- 0
DOMAIN_BY <- list(overall = NULL, agency = "agency_code", field = "field_code", month = "month",
                  agency_field = c("agency_code", "field_code"))

# ---------------------------------------------------------------------------------------------
# helpers

# Evaluate expr; return list(value, error, note) instead of failing.
run <- function(expr) {
  notes <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "oracle_error")),
    warning = function(w) {
      notes <<- c(notes, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(value, "oracle_error")) {
    return(list(value = NULL, error = as.character(unclass(value)), note = paste(unique(notes), collapse = "; ")))
  }
  list(value = value, error = NA_character_, note = paste(unique(notes), collapse = "; "))
}

na_if_empty <- function(x) if (is.na(x) || identical(x, "")) NA_character_ else x

fmt_double <- function(x) {
  out <- sprintf("%.17g", x)
  out[is.na(x) & !is.nan(x)] <- "NA"
  out
}

csv_field <- function(x) {
  needs <- !is.na(x) & grepl('[,"\n\r]', x)
  x[needs] <- paste0('"', gsub('"', '""', x[needs], fixed = TRUE), '"')
  x[is.na(x)] <- "NA"
  x
}

# Write rows (a list of data.tables) as CSV: doubles as %.17g, NA as NA, quotes only if needed.
write_long <- function(rows, path) {
  dt <- rbindlist(rows, fill = TRUE, use.names = TRUE)
  cols <- lapply(names(dt), function(col) {
    v <- dt[[col]]
    if (is.double(v)) fmt_double(v) else csv_field(as.character(v))
  })
  lines <- c(paste(names(dt), collapse = ","), do.call(paste, c(cols, sep = ",")))
  con <- if (grepl("\\.gz$", path)) gzfile(path, "wb") else file(path, "wb")
  writeLines(enc2utf8(lines), con, useBytes = TRUE)
  close(con)
  invisible(nrow(dt))
}

wilson_ci <- function(p, v, df) {
  # survey >= 4.5 svyciprop(method = "wilson"), reproduced by its closed form
  # (survey-stats.md section 4 item 7): n* = p(1-p)/V, t = qt(1 - alpha/2, df).
  n_eff <- p * (1 - p) / v
  t <- qt(1 - ALPHA / 2, df)
  centre <- p + t^2 / (2 * n_eff)
  half <- (t / (2 * n_eff)) * sqrt(4 * n_eff * p * (1 - p) + t^2)
  c(centre - half, centre + half) / (1 + t^2 / n_eff)
}

# ---------------------------------------------------------------------------------------------
# data

read_dataset <- function(dir) {
  chr <- c("response_id", "submitted_at", "form_id", "agency_code", "counter_code", "field_code",
           "procedure_code", "channel", "flags", "comment")
  d <- fread(file.path(dir, "responses.csv"), encoding = "UTF-8", na.strings = "",
             colClasses = list(character = chr, integer = ITEMS, numeric = c("weight", "base_weight")))
  d <- as.data.frame(d)
  d$month <- substr(d$submitted_at, 1, 7)
  S <- list()
  for (j in ITEMS) {
    code <- d[[j]]
    valid <- !is.na(code) & code >= 1 & code <= 5
    s <- ifelse(valid, as.numeric(code >= 4), NA_real_)
    d[[paste0("s_", j)]] <- s
    d[[paste0("a_", j)]] <- as.numeric(valid)
    d[[paste0("s0_", j)]] <- ifelse(valid, s, 0)
    S[[j]] <- s
  }
  S <- do.call(cbind, S)
  fscore <- list()
  for (e in names(FACTORS)) {
    r <- rowMeans(S[, FACTORS[[e]], drop = FALSE], na.rm = TRUE)
    r[is.nan(r)] <- NA_real_
    d[[paste0("r_", e)]] <- r
    fscore[[e]] <- r
  }
  fscore <- do.call(cbind, fscore)
  r <- rowMeans(fscore, na.rm = TRUE)
  r[is.nan(r)] <- NA_real_
  d$r_OVERALL <- r
  r <- rowMeans(S, na.rm = TRUE)
  r[is.nan(r)] <- NA_real_
  d$r_FLAT <- r
  frame <- as.data.frame(fread(file.path(dir, "frame.csv"), colClasses = list(character = 1:2)))
  ma <- as.data.frame(fread(file.path(dir, "margins_agency.csv"), colClasses = list(character = 1)))
  mf <- as.data.frame(fread(file.path(dir, "margins_field.csv"), colClasses = list(character = 1)))
  list(d = d, frame = frame, ma = ma, mf = mf)
}

# ---------------------------------------------------------------------------------------------
# designs

make_designs <- function(x) {
  d <- x$d
  notes <- list()
  des <- list()
  des$srs <- svydesign(ids = ~1, weights = ~weight, data = d)
  des$strat_clus <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight, data = d)
  des$strat_clus_fpc <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~weight,
                                  fpc = ~counters_total, data = d)
  base <- svydesign(ids = ~counter_code, strata = ~agency_code, weights = ~base_weight, data = d)

  pop <- data.frame(agency_code = x$frame$agency_code, field_code = x$frame$field_code,
                    Freq = x$frame$dossiers)
  # Frame cells without responses are dropped here, before postStratify(): that is what
  # partial = TRUE is meant to do, but survey 4.1-1 (and 4.5) computes its "only in population"
  # flags before removing the empty rows of the crossed sample table, so the flags are misaligned
  # and other cells lose their weights (NA) whenever agency x field is not a full cross.
  sample_cells <- unique(paste(d$agency_code, d$field_code))
  in_sample <- paste(pop$agency_code, pop$field_code) %in% sample_cells
  partial <- !all(in_sample)
  pop <- pop[in_sample, ]
  ps_note <- if (partial) {
    sprintf("%d frame cells without responses dropped from the population (%.17g dossiers)",
            sum(!in_sample), sum(x$frame$dossiers[!in_sample]))
  } else {
    "every frame cell has responses"
  }
  r <- run(postStratify(base, ~agency_code + field_code, pop))
  notes$poststrat <- paste0(ps_note, if (nzchar(r$note)) paste0("; ", r$note) else "")
  if (!is.null(r$value)) des$poststrat <- r$value else notes$poststrat <- r$error

  srs_base <- svydesign(ids = ~1, weights = ~base_weight, data = d)
  r <- run(postStratify(srs_base, ~agency_code + field_code, pop))
  notes$srs_poststrat <- paste0(ps_note, if (nzchar(r$note)) paste0("; ", r$note) else "")
  if (!is.null(r$value)) des$srs_poststrat <- r$value else notes$srs_poststrat <- r$error

  pa <- data.frame(agency_code = x$ma$agency_code, Freq = x$ma$dossiers)
  pf <- data.frame(field_code = x$mf$field_code, Freq = x$mf$dossiers)
  r <- run(rake(base, list(~agency_code, ~field_code), list(pa, pf),
                control = list(maxit = 1000, epsilon = 1e-12, verbose = FALSE)))
  notes$rake <- paste0("maxit=1000, epsilon=1e-12", if (nzchar(r$note)) paste0("; ", r$note) else "")
  if (!is.null(r$value)) des$rake <- r$value else notes$rake <- r$error

  lev_a <- sort(unique(d$agency_code))
  lev_f <- sort(unique(d$field_code))
  tot <- c(sum(x$frame$dossiers),
           setNames(x$ma$dossiers[match(lev_a[-1], x$ma$agency_code)], paste0("agency_code", lev_a[-1])),
           setNames(x$mf$dossiers[match(lev_f[-1], x$mf$field_code)], paste0("field_code", lev_f[-1])))
  names(tot)[1] <- "(Intercept)"
  for (cf in c("linear", "raking")) {
    nm <- paste0("cal_", cf)
    r <- run(calibrate(base, ~agency_code + field_code, population = tot, calfun = cf,
                       maxit = 200, epsilon = 1e-12))
    notes[[nm]] <- paste0("maxit=200, epsilon=1e-12", if (nzchar(r$note)) paste0("; ", r$note) else "")
    if (!is.null(r$value)) des[[nm]] <- r$value else notes[[nm]] <- r$error
  }
  list(des = des, notes = notes)
}

design_summary <- function(des, notes) {
  rows <- list()
  for (nm in names(des)) {
    ds <- des[[nm]]
    w <- weights(ds)
    rows[[nm]] <- data.table(
      design = nm, n = as.double(sum(w != 0)), sum_w = sum(w),
      n_strata = as.double(length(unique(ds$strata[, 1]))),
      n_psu = as.double(length(unique(ds$cluster[, 1]))),
      degf = as.double(degf(ds)), kish_deff = length(w) * sum(w^2) / sum(w)^2,
      min_w = min(w), max_w = max(w), note = na_if_empty(if (is.null(notes[[nm]])) "" else notes[[nm]]))
  }
  rows
}

# ---------------------------------------------------------------------------------------------
# domains

domain_masks <- function(d, domain_type) {
  by <- DOMAIN_BY[[domain_type]]
  if (is.null(by)) return(list(ALL = rep(TRUE, nrow(d))))
  key <- if (length(by) == 1) d[[by]] else do.call(paste, c(lapply(by, function(b) d[[b]]), sep = ":"))
  vals <- sort(unique(key))
  setNames(lapply(vals, function(v) key == v), vals)
}

# ---------------------------------------------------------------------------------------------
# criteria

# svyciprop's own code (survey 4.1-1, R/svyttest.R) applied to an existing svymean result `m`,
# so that one svymean per (domain, item) serves every method. Where real svyciprop() is called
# as well, both are compared and the largest difference goes to checks.txt.
ciprop_from_mean <- function(m, method, df, nrow_design, degf_design, level = 1 - ALPHA) {
  if (method == "mean") {
    ci <- as.vector(confint(m, 1, level = level, df = df))
  } else if (method == "asin") {
    names(m) <- 1
    xform <- svycontrast(m, quote(asin(sqrt(`1`))))
    ci <- sin(as.vector(confint(xform, 1, level = level, df = df)))^2
  } else if (method == "xlogit") {
    names(m) <- 1
    xform <- svycontrast(m, quote(log(`1` / (1 - `1`))))
    ci <- survey:::expit(as.vector(confint(xform, 1, level = level, df = df)))
  } else if (method == "beta") {
    n.eff <- coef(m) * (1 - coef(m)) / vcov(m)
    rval <- coef(m)[1]
    alpha <- 1 - level
    n.eff <- n.eff * (qt(alpha / 2, nrow_design - 1) / qt(alpha / 2, degf_design))^2
    ci <- c(qbeta(alpha / 2, n.eff * rval, n.eff * (1 - rval) + 1),
            qbeta(1 - alpha / 2, n.eff * rval + 1, n.eff * (1 - rval)))
  } else {
    stop("no closed form for method ", method)
  }
  as.numeric(ci)
}

criterion_rows <- function(ds, mask, item, methods, real = character(0), check = FALSE) {
  sj <- paste0("s_", item)
  f <- as.formula(paste0("~", sj))
  dd <- ds[mask & !is.na(ds$variables[[sj]]), ]
  n <- sum(weights(dd, "sampling") != 0)
  df <- degf(dd)
  m <- run(svymean(f, dd, na.rm = TRUE, deff = TRUE))
  if (is.null(m$value)) {
    return(list(data.table(method = methods, n = as.double(n), df = as.double(df),
                           error = m$error, note = na_if_empty(m$note))))
  }
  est <- coef(m$value)[[1]]
  se <- SE(m$value)[[1]]
  out <- list()
  for (meth in methods) {
    row <- list(method = meth, est = est, se = se, ci_low = NA_real_, ci_high = NA_real_,
                n = as.double(n), df = as.double(df), deff = NA_real_, deff_replace = NA_real_,
                n_used_by_beta = NA_real_, df_used = NA_real_, via = NA_character_, error = NA_character_,
                note = NA_character_)
    if (meth == "wald_z") {
      ci <- confint(m$value)
      row$ci_low <- ci[1, 1]
      row$ci_high <- ci[1, 2]
      row$deff <- deff(m$value)[[1]]
      row$via <- "svymean"
      # svymean's deff divides V by svyvar * (N - n) / (N n); deff = "replace" by svyvar / n, with
      # the same svyvar. So deff_replace = deff * (N - n) / N, N = sum of weights, n = rows with
      # non-zero weight. Where deff is NA (N < n) svymean(deff = "replace") is called instead;
      # `check` also calls it and records the difference in checks.txt.
      notes <- m$note
      psum <- sum(weights(dd, "sampling"))
      if (!is.na(row$deff) && !check) {
        row$deff_replace <- row$deff * (psum - n) / psum
      } else {
        mr <- run(svymean(f, dd, na.rm = TRUE, deff = "replace"))
        row$deff_replace <- if (is.null(mr$value)) NA_real_ else deff(mr$value)[[1]]
        notes <- c(m$note, mr$note)
        if (is.finite(row$deff) && is.finite(row$deff_replace) && row$deff_replace != 0) {
          CIPROP_CHECK$deff_rel <- max(CIPROP_CHECK$deff_rel,
                                       abs(row$deff * (psum - n) / psum / row$deff_replace - 1))
          CIPROP_CHECK$deff_n <- CIPROP_CHECK$deff_n + 1
        }
      }
      row$note <- na_if_empty(paste(unique(notes[nzchar(notes)]), collapse = "; "))
    } else if (meth == "xlogit_dffull") {
      # svyciprop(method = "xlogit", df = degf(full design)), via the same code on the row's svymean
      r <- run(ciprop_from_mean(m$value, "xlogit", degf(ds), nrow(dd), df))
      if (is.null(r$value)) row$error <- r$error else {
        row$ci_low <- r$value[1]
        row$ci_high <- r$value[2]
      }
      row$df_used <- as.double(degf(ds))
      row$via <- "svyciprop_code"
      row$note <- na_if_empty(r$note)
    } else if (meth == "wilson") {
      r <- run(wilson_ci(est, se^2, df))
      row$ci_low <- r$value[1]
      row$ci_high <- r$value[2]
      row$via <- "closed_form"
      row$note <- na_if_empty(r$note)
    } else if (meth %in% real) {
      r <- run(svyciprop(f, dd, method = meth, level = 1 - ALPHA, na.rm = TRUE))
      if (is.null(r$value)) {
        row$est <- NA_real_
        row$se <- NA_real_
        row$error <- r$error
      } else {
        ci <- attr(r$value, "ci")
        row$est <- as.numeric(r$value)[1]
        row$se <- sqrt(attr(r$value, "var")[1, 1])
        row$ci_low <- ci[[1]]
        row$ci_high <- ci[[2]]
        if (meth != "logit") {
          alt <- run(ciprop_from_mean(m$value, meth, df, nrow(dd), df))
          if (!is.null(alt$value)) {
            diff <- abs(alt$value - c(ci[[1]], ci[[2]]))
            same_na <- is.na(alt$value) & is.na(c(ci[[1]], ci[[2]]))
            diff[same_na] <- 0
            CIPROP_CHECK$max_abs_diff <- max(CIPROP_CHECK$max_abs_diff, diff)
            CIPROP_CHECK$n <- CIPROP_CHECK$n + 1
          }
        }
      }
      row$via <- "svyciprop"
      row$note <- na_if_empty(r$note)
    } else {
      r <- run(ciprop_from_mean(m$value, meth, df, nrow(dd), df))
      if (is.null(r$value)) row$error <- r$error else {
        row$ci_low <- r$value[1]
        row$ci_high <- r$value[2]
      }
      row$via <- "svyciprop_code"
      row$note <- na_if_empty(r$note)
    }
    if (meth == "beta") row$n_used_by_beta <- as.double(nrow(dd))
    out[[meth]] <- as.data.table(row)
  }
  out
}

criteria_table <- function(ds, design_name, domain_type, methods, real = character(0),
                           check = FALSE, lonely = MAIN_LONELY) {
  d <- ds$variables
  masks <- domain_masks(d, domain_type)
  rows <- list()
  for (dom in names(masks)) {
    for (item in ITEMS) {
      r <- rbindlist(criterion_rows(ds, masks[[dom]], item, methods, real, check),
                     fill = TRUE)
      r[, `:=`(design = design_name, lonely = lonely, domain_type = domain_type,
               domain = dom, item = item)]
      rows[[length(rows) + 1]] <- r
    }
  }
  rbindlist(rows, fill = TRUE)
}

# ---------------------------------------------------------------------------------------------
# indices

index_exprs <- function() {
  share <- function(j) sprintf("(s0_%s/a_%s)", j, j)
  fac <- sapply(FACTORS, function(js) sprintf("((%s)/%d)", paste(share(js), collapse = "+"), length(js)))
  ex <- c(fac, OVERALL = sprintf("((%s)/%d)", paste(fac, collapse = "+"), length(fac)),
          FLAT = sprintf("((%s)/%d)", paste(share(ITEMS), collapse = "+"), length(ITEMS)))
  lapply(ex, function(s) parse(text = s)[[1]])
}
INDEX_EXPRS <- index_exprs()
TOTALS_FORMULA <- as.formula(paste("~", paste(c(paste0("s0_", ITEMS), paste0("a_", ITEMS)), collapse = "+")))
INDEX_NAMES <- c(names(FACTORS), "OVERALL", "FLAT")

index_rows <- function(ds, mask) {
  rows <- list()
  dd <- ds[mask, ]
  tot <- run(svytotal(TOTALS_FORMULA, dd))
  con <- if (is.null(tot$value)) tot else run(svycontrast(tot$value, INDEX_EXPRS))
  n_dom <- as.double(sum(weights(dd, "sampling") != 0))
  for (k in INDEX_NAMES) {
    if (is.null(con$value)) {
      rows[[length(rows) + 1]] <- data.table(index = k, version = "A", n = n_dom,
                                             df = as.double(degf(dd)), error = con$error)
    } else {
      v <- vcov(con$value)[k, k]
      rows[[length(rows) + 1]] <- data.table(
        index = k, version = "A", est = coef(con$value)[[k]], se = sqrt(v), n = n_dom,
        df = as.double(degf(dd)), error = NA_character_, note = na_if_empty(con$note))
    }
    rv <- paste0("r_", k)
    db <- ds[mask & !is.na(ds$variables[[rv]]), ]
    m <- run(svymean(as.formula(paste0("~", rv)), db, na.rm = TRUE))
    rows[[length(rows) + 1]] <- data.table(
      index = k, version = "B",
      est = if (is.null(m$value)) NA_real_ else coef(m$value)[[1]],
      se = if (is.null(m$value)) NA_real_ else SE(m$value)[[1]],
      n = as.double(sum(weights(db, "sampling") != 0)), df = as.double(degf(db)),
      error = m$error, note = na_if_empty(m$note))
  }
  rbindlist(rows, fill = TRUE)
}

indices_table <- function(ds, design_name, domain_type) {
  masks <- domain_masks(ds$variables, domain_type)
  rows <- lapply(names(masks), function(dom) {
    r <- index_rows(ds, masks[[dom]])
    r[, `:=`(design = design_name, domain_type = domain_type, domain = dom)]
    r
  })
  rbindlist(rows, fill = TRUE)
}

# ---------------------------------------------------------------------------------------------
# contrasts

contrast_row <- function(r, design_name, comparison, pair, quantity, method) {
  data.table(design = design_name, comparison = comparison, domain_1 = pair[1],
             domain_2 = pair[2], quantity = quantity, method = method,
             est = if (is.null(r$value)) NA_real_ else coef(r$value)[[1]],
             se = if (is.null(r$value)) NA_real_ else SE(r$value)[[1]],
             error = r$error, note = na_if_empty(r$note))
}

# Difference of a domain mean between two domains: svyby(covmat = TRUE) + svycontrast.
svyby_pair <- function(ds, var, by, pair, design_name, comparison) {
  f <- as.formula(paste0("~", var))
  # Only the two domains enter svyby; the subset keeps the full-design PSU counts (zero padding),
  # so the estimates, SEs and covariance equal those of svyby over every domain.
  sub <- ds[!is.na(ds$variables[[var]]) & ds$variables[[by]] %in% pair, ]
  b <- run(svyby(f, as.formula(paste0("~", by)), sub, svymean, na.rm = TRUE, covmat = TRUE))
  r <- if (is.null(b$value)) b else run(svycontrast(b$value, setNames(c(1, -1), pair)))
  contrast_row(r, design_name, comparison, pair, var, "svyby_covmat")
}

# The same difference as a nonlinear contrast of four totals: ratio(y, x) in domain 1 minus
# ratio(y, x) in domain 2 (ind2 = all ones for "overall"). Used for calibrated designs, whose
# subsets keep every row with weight 0, so that svyby() there meets empty groups.
totals_pair <- function(ds, y, x, ind1, ind2, design_name, comparison, pair, quantity) {
  ds2 <- update(ds, y1_ = y * ind1, x1_ = x * ind1, y2_ = y * ind2, x2_ = x * ind2)
  t <- run(svytotal(~y1_ + x1_ + y2_ + x2_, ds2))
  r <- if (is.null(t$value)) t else run(svycontrast(t$value, quote(y1_ / x1_ - y2_ / x2_)))
  contrast_row(r, design_name, comparison, pair, quantity, "totals")
}

# Index A (OVERALL) of agency 1 minus agency 2 as one nonlinear contrast of 88 totals.
index_a_pair <- function(ds, pair, design_name) {
  v <- ds$variables
  ind <- lapply(pair, function(a) as.numeric(v$agency_code == a))
  vars <- list()
  for (k in 1:2) {
    for (j in ITEMS) {
      vars[[sprintf("s0_%s_d%d", j, k)]] <- v[[paste0("s0_", j)]] * ind[[k]]
      vars[[sprintf("a_%s_d%d", j, k)]] <- v[[paste0("a_", j)]] * ind[[k]]
    }
  }
  ds2 <- ds
  for (nm in names(vars)) ds2$variables[[nm]] <- vars[[nm]]
  t <- run(svytotal(as.formula(paste("~", paste(names(vars), collapse = "+"))), ds2))
  ex <- deparse1(INDEX_EXPRS$OVERALL)
  e1 <- gsub("(s0_|a_)(e[0-9]_[0-9])", "\\1\\2_d1", ex)
  e2 <- gsub("(s0_|a_)(e[0-9]_[0-9])", "\\1\\2_d2", ex)
  expr <- parse(text = paste0("(", e1, ") - (", e2, ")"))[[1]]
  r <- if (is.null(t$value)) t else run(svycontrast(t$value, expr))
  contrast_row(r, design_name, "agency_pair", pair, "index_A_OVERALL", "totals")
}

contrasts_table <- function(ds, design_name) {
  v <- ds$variables
  calibrated <- !is.null(ds$postStrata)
  agencies <- sort(unique(v$agency_code))
  months <- sort(unique(v$month))
  apair <- agencies[1:2]
  mpair <- months[1:2]
  ia <- lapply(apair, function(a) as.numeric(v$agency_code == a))
  im <- lapply(mpair, function(m) as.numeric(v$month == m))
  ones <- rep(1, nrow(v))
  rows <- list()
  add <- function(r) rows[[length(rows) + 1]] <<- r
  pair_of <- function(var, y, x) {
    if (calibrated) {
      add(totals_pair(ds, y, x, ia[[1]], ia[[2]], design_name, "agency_pair", apair, var))
      add(totals_pair(ds, y, x, im[[1]], im[[2]], design_name, "month_pair", mpair, var))
    } else {
      add(svyby_pair(ds, var, "agency_code", apair, design_name, "agency_pair"))
      add(svyby_pair(ds, var, "month", mpair, design_name, "month_pair"))
    }
  }
  for (item in ITEMS) {
    y <- v[[paste0("s0_", item)]]
    x <- v[[paste0("a_", item)]]
    pair_of(paste0("s_", item), y, x)
    add(totals_pair(ds, y, x, ia[[1]], ones, design_name, "agency_vs_overall",
                    c(apair[1], "ALL"), paste0("s_", item)))
  }
  for (k in c("OVERALL", "FLAT")) {
    r <- v[[paste0("r_", k)]]
    pair_of(paste0("r_", k), ifelse(is.na(r), 0, r), as.numeric(!is.na(r)))
  }
  add(index_a_pair(ds, apair, design_name))
  rbindlist(rows, fill = TRUE)
}

# ---------------------------------------------------------------------------------------------
# lonely PSU options (strat_clus design)

lonely_table <- function(ds) {
  rows <- list()
  for (opt in c("fail", "remove", "certainty", "adjust", "average")) {
    for (adj in c(FALSE, TRUE)) {
      options(survey.lonely.psu = opt, survey.adjust.domain.lonely = adj)
      for (dt_name in c("overall", "agency", "field")) {
        masks <- domain_masks(ds$variables, dt_name)
        for (dom in names(masks)) {
          for (item in ITEMS) {
            sj <- paste0("s_", item)
            dd <- ds[masks[[dom]] & !is.na(ds$variables[[sj]]), ]
            m <- run(svymean(as.formula(paste0("~", sj)), dd, na.rm = TRUE))
            rows[[length(rows) + 1]] <- data.table(
              lonely = opt, adjust_domain_lonely = adj, domain_type = dt_name, domain = dom,
              quantity = sj, est = if (is.null(m$value)) NA_real_ else coef(m$value)[[1]],
              se = if (is.null(m$value)) NA_real_ else SE(m$value)[[1]],
              n = as.double(sum(weights(dd, "sampling") != 0)), df = as.double(degf(dd)),
              error = m$error, note = na_if_empty(m$note))
          }
          for (k in c("OVERALL", "FLAT")) {
            rv <- paste0("r_", k)
            db <- ds[masks[[dom]] & !is.na(ds$variables[[rv]]), ]
            m <- run(svymean(as.formula(paste0("~", rv)), db, na.rm = TRUE))
            rows[[length(rows) + 1]] <- data.table(
              lonely = opt, adjust_domain_lonely = adj, domain_type = dt_name, domain = dom,
              quantity = rv, est = if (is.null(m$value)) NA_real_ else coef(m$value)[[1]],
              se = if (is.null(m$value)) NA_real_ else SE(m$value)[[1]],
              n = as.double(sum(weights(db, "sampling") != 0)), df = as.double(degf(db)),
              error = m$error, note = na_if_empty(m$note))
          }
        }
      }
    }
  }
  options(survey.lonely.psu = MAIN_LONELY, survey.adjust.domain.lonely = FALSE)
  rows
}

# ---------------------------------------------------------------------------------------------
# plan: which design x domain type x methods

# Design x domain types x methods written to criteria.csv. `real`: methods computed by calling
# svyciprop() itself; the other svyciprop methods reuse the row's svymean (same code, see
# ciprop_from_mean). logit (an svyglm fit) only exists where it is called for real.
criteria_plan <- function() {
  oaf <- c("overall", "agency", "field")
  real5 <- c("mean", "xlogit", "logit", "beta", "asin")
  real4 <- c("mean", "xlogit", "beta", "asin")
  plan <- list(
    list(design = "srs", domains = "overall", methods = CI_METHODS, real = real4),
    list(design = "srs", domains = c("agency", "field", "month"), methods = CI_METHODS),
    list(design = "strat_clus", domains = oaf, methods = c(FULL_METHODS, "xlogit_dffull"),
         real = real5),
    list(design = "strat_clus", domains = "month", methods = CI_METHODS),
    list(design = "strat_clus", domains = "agency_field", methods = "wald_z"),
    list(design = "strat_clus_fpc", domains = oaf, methods = CI_METHODS),
    list(design = "srs_poststrat", domains = oaf, methods = "wald_z"))
  for (nm in c("poststrat", "cal_linear", "cal_raking")) {
    plan[[length(plan) + 1]] <- list(design = nm, domains = "overall", methods = CI_METHODS,
                                     real = real4)
    plan[[length(plan) + 1]] <- list(design = nm, domains = c("agency", "field"),
                                     methods = CI_METHODS)
  }
  plan[[length(plan) + 1]] <- list(design = "rake", domains = oaf, methods = CI_METHODS)
  plan
}

# Domain types of indices.csv per design (month only for the designs without calibration).
INDEX_DOMAINS <- list(srs = c("overall", "agency", "field", "month"),
                      strat_clus = c("overall", "agency", "field", "month"),
                      strat_clus_fpc = c("overall", "agency", "field", "month"))
INDEX_DOMAINS_DEFAULT <- c("overall", "agency", "field")

CONTRAST_DESIGNS <- c("srs", "strat_clus", "poststrat", "cal_linear")
CRIT_COLS <- c("design", "lonely", "domain_type", "domain", "item", "method", "est", "se", "ci_low",
               "ci_high", "n", "df", "df_used", "deff", "deff_replace", "n_used_by_beta", "via", "error",
               "note")
IDX_COLS <- c("design", "domain_type", "domain", "index", "version", "est", "se", "n", "df",
              "error", "note")
CON_COLS <- c("design", "comparison", "domain_1", "domain_2", "quantity", "method", "est", "se",
              "error", "note")
LON_COLS <- c("lonely", "adjust_domain_lonely", "domain_type", "domain", "quantity", "est", "se",
              "n", "df", "error", "note")

ordered <- function(dt, cols) {
  for (c in setdiff(cols, names(dt))) set(dt, j = c, value = NA)
  dt[, ..cols]
}

process <- function(name, data_dir, out_dir) {
  t0 <- proc.time()[["elapsed"]]
  CIPROP_CHECK$max_abs_diff <- 0
  CIPROP_CHECK$n <- 0
  CIPROP_CHECK$deff_rel <- 0
  CIPROP_CHECK$deff_n <- 0
  x <- read_dataset(file.path(data_dir, name))
  dz <- make_designs(x)
  des <- dz$des
  od <- file.path(out_dir, name)
  dir.create(od, recursive = TRUE, showWarnings = FALSE)

  write_long(design_summary(des, dz$notes), file.path(od, "design_summary.csv"))
  w <- data.table(response_id = x$d$response_id, weight = x$d$weight, base_weight = x$d$base_weight)
  for (nm in c("poststrat", "rake", "cal_linear", "cal_raking", "srs_poststrat")) {
    set(w, j = paste0("w_", nm),
        value = if (is.null(des[[nm]])) NA_real_ else weights(des[[nm]]))
  }
  write_long(list(w), file.path(od, "weights.csv"))

  crit <- list()
  for (p in criteria_plan()) {
    if (is.null(des[[p$design]])) next
    for (dt_name in p$domains) {
      real <- if (is.null(p$real)) character(0) else p$real
      crit[[length(crit) + 1]] <- criteria_table(des[[p$design]], p$design, dt_name, p$methods,
                                                 real, check = length(real) > 0)
    }
  }
  crit <- ordered(rbindlist(crit, fill = TRUE), CRIT_COLS)
  n_crit <- write_long(list(crit), file.path(od, "criteria.csv.gz"))
  cat(sprintf("[%s] criteria: %d rows, %.1f s\n", name, n_crit, proc.time()[["elapsed"]] - t0))

  idx <- list()
  for (nm in names(des)) {
    doms <- if (is.null(INDEX_DOMAINS[[nm]])) INDEX_DOMAINS_DEFAULT else INDEX_DOMAINS[[nm]]
    for (dt_name in doms) {
      idx[[length(idx) + 1]] <- indices_table(des[[nm]], nm, dt_name)
    }
  }
  n_idx <- write_long(list(ordered(rbindlist(idx, fill = TRUE), IDX_COLS)), file.path(od, "indices.csv"))
  cat(sprintf("[%s] indices: %d rows, %.1f s\n", name, n_idx, proc.time()[["elapsed"]] - t0))

  con <- list()
  for (nm in intersect(CONTRAST_DESIGNS, names(des))) {
    con[[length(con) + 1]] <- contrasts_table(des[[nm]], nm)
  }
  n_con <- write_long(list(ordered(rbindlist(con, fill = TRUE), CON_COLS)), file.path(od, "contrasts.csv"))
  cat(sprintf("[%s] contrasts: %d rows, %.1f s\n", name, n_con, proc.time()[["elapsed"]] - t0))

  if (name == "lonely") {
    lon <- ordered(rbindlist(lonely_table(des$strat_clus), fill = TRUE), LON_COLS)
    n_lon <- write_long(list(lon), file.path(od, "lonely_psu.csv"))
    cat(sprintf("[%s] lonely_psu: %d rows, %.1f s\n", name, n_lon, proc.time()[["elapsed"]] - t0))
  }
  writeLines(c(
    sprintf("svyciprop() vs svyciprop code on the row's svymean: %d intervals compared, max abs diff %.3g",
            CIPROP_CHECK$n, CIPROP_CHECK$max_abs_diff),
    sprintf("svymean(deff='replace') vs deff * (N - n) / N: %d rows compared, max rel diff %.3g",
            CIPROP_CHECK$deff_n, CIPROP_CHECK$deff_rel)), file.path(od, "checks.txt"))
  cat(sprintf("[%s] done in %.1f s\n", name, proc.time()[["elapsed"]] - t0))
}

main <- function() {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) < 2) stop("usage: Rscript oracle.R <data_dir> <out_dir> [dataset ...]")
  data_dir <- args[1]
  out_dir <- args[2]
  names <- if (length(args) > 2) args[-(1:2)] else c("base", "lonely", "sparse", "extreme")
  dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
  writeLines(c(R.version.string,
               paste("survey", as.character(packageVersion("survey"))),
               paste("data.table", as.character(packageVersion("data.table"))),
               paste("Matrix", as.character(packageVersion("Matrix")))),
             file.path(out_dir, "VERSIONS.txt"))
  t0 <- proc.time()[["elapsed"]]
  for (nm in names) process(nm, data_dir, out_dir)
  cat(sprintf("total %.1f s\n", proc.time()[["elapsed"]] - t0))
}

main()
