/* bench_report.c - the shared benchmark result table (see bench_report.h). */
#include "bench_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cl_bench_row rows[32];
static int nrows;

cl_bench_row *cl_bench_row_new(const char *what, const char *unit, double goal)
{
	if (nrows == (int)(sizeof(rows) / sizeof(rows[0]))) {
		fprintf(stderr, "bench: too many rows\n");
		exit(1);
	}
	cl_bench_row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->what = what;
	r->unit = unit;
	r->goal = goal;
	return r;
}

void cl_bench_add(cl_bench_row *r, double limit, double ours)
{
	if (r->n < CL_BENCH_MAX_ROUNDS) {
		r->limit[r->n] = limit;
		r->ours[r->n] = ours;
		r->n++;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double cl_bench_median(const double *v, int n)
{
	double tmp[CL_BENCH_MAX_ROUNDS];
	if (n <= 0)
		return 0;
	memcpy(tmp, v, (size_t)n * sizeof(*v));
	qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

void cl_bench_print_table(const char *limit_label)
{
	printf("| measurement | %s | certledger | ratio (min-max) | goal |\n", limit_label);
	printf("|---|---:|---:|---:|---|\n");
	for (int i = 0; i < nrows; i++) {
		const cl_bench_row *r = &rows[i];
		double ours = cl_bench_median(r->ours, r->n);
		if (r->n > 0 && r->limit[0] > 0) {
			double ratios[CL_BENCH_MAX_ROUNDS], lo = 1e300, hi = 0;
			for (int k = 0; k < r->n; k++) {
				ratios[k] = r->ours[k] / r->limit[k];
				lo = ratios[k] < lo ? ratios[k] : lo;
				hi = ratios[k] > hi ? ratios[k] : hi;
			}
			double ratio = cl_bench_median(ratios, r->n);
			char goal[64];
			if (r->goal > 0)
				snprintf(goal, sizeof(goal), ">= %.2f: %s", r->goal, ratio >= r->goal ? "met" : "MISSED");
			else
				snprintf(goal, sizeof(goal), "(for reference)");
			printf("| %s | %.0f %s | %.0f %s | %.3f (%.3f-%.3f) | %s |\n", r->what,
			       cl_bench_median(r->limit, r->n), r->unit, ours, r->unit, ratio, lo, hi, goal);
		} else {
			printf("| %s | - | %.0f %s | - | >= %.0f %s: %s |\n", r->what, ours, r->unit, r->goal, r->unit,
			       ours >= r->goal ? "met" : "MISSED");
		}
	}
}
