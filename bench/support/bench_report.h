/* bench_report.h - the result table the benchmarks share: each row holds, per round, the
 * machine's limit and certledger's rate measured back to back; the table prints medians and the
 * median per-round ratio with its range against the row's goal. */
#ifndef CL_BENCH_REPORT_H
#define CL_BENCH_REPORT_H

#define CL_BENCH_MAX_ROUNDS 32

typedef struct cl_bench_row {
	const char *what;
	const char *unit;
	double goal; /* a ratio; with no limit (limit 0) an absolute rate; 0: for reference only */
	int n;
	double limit[CL_BENCH_MAX_ROUNDS], ours[CL_BENCH_MAX_ROUNDS];
} cl_bench_row;

/* A new row of the table (at most 32 rows; the strings must outlive the table). */
cl_bench_row *cl_bench_row_new(const char *what, const char *unit, double goal);
/* One round: the limit's rate and ours (limit 0 when the goal is an absolute rate). */
void cl_bench_add(cl_bench_row *r, double limit, double ours);
double cl_bench_median(const double *v, int n);
/* Prints the table as Markdown; limit_label names the limit column ("limit (raw)", "OpenSSL"). */
void cl_bench_print_table(const char *limit_label);

#endif
