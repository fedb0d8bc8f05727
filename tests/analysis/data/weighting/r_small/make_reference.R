# Reference weights from R survey for tests/analysis/test_weighting_against_r.py.
# Run from this folder:  Rscript make_reference.R   (R 4.2.2, survey 4.1-1 when written)
# Writes responses.csv, frame.csv, margins_agency.csv, margins_field.csv and weights.csv
# (doubles with %.17g). The frame has one populated cell without responses (A5/F4), so
# postStratify needs partial = TRUE; rake/calibrate use margins over the sampled cells only.
suppressMessages(library(survey))
set.seed(20240601)
n <- 400
agencies <- sprintf("A%d", 1:5)
fields <- sprintf("F%d", 1:4)
d <- data.frame(
  response_id = sprintf("R%04d", 1:n),
  agency_code = sample(agencies, n, replace = TRUE, prob = c(.3, .25, .2, .15, .1)),
  field_code = sample(fields, n, replace = TRUE, prob = c(.4, .3, .2, .1)),
  stringsAsFactors = FALSE
)
d <- d[!(d$agency_code == "A5" & d$field_code == "F4"), ]
d$base_weight <- round(runif(nrow(d), 40, 120), 3)
cells <- expand.grid(agency_code = agencies, field_code = fields, stringsAsFactors = FALSE)
cells$dossiers <- sample(200:3000, nrow(cells), replace = TRUE)
fmt <- function(x) sprintf("%.17g", x)

des <- svydesign(ids = ~1, weights = ~base_weight, data = d)
pop <- data.frame(agency_code = cells$agency_code, field_code = cells$field_code,
                  Freq = cells$dossiers)
ps <- postStratify(des, ~agency_code + field_code, pop, partial = TRUE)

# margins of the cells that have responses (A5/F4 is left out, as with partial = TRUE)
sampled <- paste(cells$agency_code, cells$field_code) %in% paste(d$agency_code, d$field_code)
ma <- aggregate(dossiers ~ agency_code, cells[sampled, ], sum)
mf <- aggregate(dossiers ~ field_code, cells[sampled, ], sum)
rk <- rake(des, list(~agency_code, ~field_code),
           list(data.frame(agency_code = ma$agency_code, Freq = ma$dossiers),
                data.frame(field_code = mf$field_code, Freq = mf$dossiers)),
           control = list(maxit = 500, epsilon = 1e-13))
tot <- c(sum(ma$dossiers), ma$dossiers[-1], mf$dossiers[-1])
cal <- function(...) calibrate(des, ~agency_code + field_code, tot, maxit = 500, epsilon = 1e-13, ...)
cl <- cal(calfun = "linear")
cr <- cal(calfun = "raking")
cg <- cal(calfun = "logit", bounds = c(0.3, 3))
cb <- cal(calfun = "linear", bounds = c(0.4, 2.5))

write.csv(d, "responses.csv", row.names = FALSE, quote = FALSE)
write.csv(cells, "frame.csv", row.names = FALSE, quote = FALSE)
write.csv(ma, "margins_agency.csv", row.names = FALSE, quote = FALSE)
write.csv(mf, "margins_field.csv", row.names = FALSE, quote = FALSE)
w <- data.frame(response_id = d$response_id, w_poststrat = fmt(weights(ps)),
                w_rake = fmt(weights(rk)), w_cal_linear = fmt(weights(cl)),
                w_cal_raking = fmt(weights(cr)), w_cal_logit = fmt(weights(cg)),
                w_cal_linear_bounded = fmt(weights(cb)))
write.csv(w, "weights.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "\nsurvey", as.character(packageVersion("survey")), "\n")
