/* report.h - the evaluation report: one self-contained HTML file (inline CSS and SVG, no
 * script, no external resource) with the ROC curve and its bootstrap band, the confusion
 * matrix, the training curves, metric tables, data set counts and the provenance of every
 * stage. Every string from a file is HTML-escaped. */
#ifndef CT_REPORT_H
#define CT_REPORT_H

#include "eval/score.h"

#include <stdio.h>

typedef struct ct_report_info {
	const char *command;  /* the ct-score command line */
	const char *params;   /* its parameters (JSON object) */
} ct_report_info;

/* Write the report to f; returns 0, or -1 when writing failed. */
int ct_report_write(FILE *f, const ct_scored *r, const ct_report_info *info);

/* HTML-escape s (& < > " ') onto f. */
void ct_html_escape(FILE *f, const char *s);

#endif
