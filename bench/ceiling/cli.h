/* cli.h -- the command line of ow-ceiling (bench/ceiling). */
#ifndef CEILING_CLI_H
#define CEILING_CLI_H

#include <stdio.h>

#include "ceiling.h"

/* Fills *o from argv (DATABASE_URL and REDIS_URL are the defaults of the
 * URLs).  Returns 0 to run, 1 when the program should exit 0 (--help:
 * printed), -1 on a usage error (explained on stderr, naming the flag). */
int ceiling_options_parse(int argc, char **argv, ceiling_options_t *o);

/* The usage text. */
void ceiling_options_usage(FILE *out);

#endif
