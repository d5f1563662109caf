/* options.h -- the command line of ow-loadgen (bench/loadgen).
 *
 * Everything a run is asked to do: the mode (load, --produce-only,
 * --consume-only), the pacing, the sizes, the topics (TOPIC_* override the
 * contract's names) and the output files. */
#ifndef LOADGEN_OPTIONS_H
#define LOADGEN_OPTIONS_H

#include <stdio.h>

#define OPTIONS_MAX_SYMBOLS 32

typedef struct options {
    const char *brokers;
    double rate;          /* intents/s; 0 = max */
    double duration_s;    /* steady window length (after warmup) */
    double warmup_s;
    long long count;      /* 0: by duration */
    int bots, users;
    const char *symbols[OPTIONS_MAX_SYMBOLS];
    int nsymbols;
    char symbol_buf[512]; /* what symbols[] point into */
    int produce_only, consume_only;
    long long expect;
    const char *tag;      /* consume-only: the run tag to read */
    long long window;     /* max outstanding in max mode */
    double drain_timeout_s;
    const char *json_out;
    const char *ready_file;
    const char *fills_out;   /* order_id and read-back time of each fill */
    const char *topic_bot, *topic_user, *topic_fills, *topic_rejections;
    const char *expires_at;  /* optional fixed expires_at */
} options_t;

/* Fills *o from argv and the environment.  Returns 0 to run, 1 when the
 * program should exit 0 (--help, --version: printed), -1 on a usage error
 * (explained on stderr). */
int options_parse(int argc, char **argv, options_t *o);

/* The usage text. */
void options_usage(FILE *out);

#endif
