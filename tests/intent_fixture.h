/* intent_fixture.h -- what test_intent.c and test_intent_values.c share:
 * the JSON pieces of a valid intent (a single quote stands for a double
 * quote, for readability) and decoding such text.
 *
 * Header-only (static inline), like unit.h: each test program is one file. */
#ifndef INTENT_FIXTURE_H
#define INTENT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

#define MAX_AGE 60000
#define ID "'intent_id':'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f'"
#define WHO ID ",'bot_id':'bot-1','user_id':'user_1'"
#define BASE WHO ",'symbol':'AAPL','side':'buy','created_at':'2026-11-23T13:21:25Z'"
#define MKT BASE ",'type':'market'"
/* A cancel request (section 3b) of another intent. */
#define CXL WHO ",'action':'cancel','target_intent_id':'1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'," \
    "'created_at':'2026-11-23T13:21:25Z'"

/* Replaces ' with " into a malloc'd copy (exits if memory runs out). */
static inline char *dq(const char *s) {
    char *out = strdup(s);
    if (out == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

/* intent_decode of single-quoted JSON with MAX_AGE. */
static inline void decode_text(const char *json_sq, intent_source_t src, intent_t *in,
                               intent_verdict_t *v) {
    char *json = dq(json_sq);
    intent_decode(json, strlen(json), src, MAX_AGE, in, v);
    free(json);
}

/* 1 if the error fields of v are exactly the comma-separated set want. */
static inline int same_fields(const intent_verdict_t *v, const char *want) {
    char buf[512];
    int n = 0;

    snprintf(buf, sizeof(buf), "%s", want);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int found = 0;
        for (int i = 0; i < v->n_errors; i++)
            if (strcmp(v->errors[i].field, tok) == 0) found++;
        if (found != 1) return 0;
        n++;
    }
    return n == v->n_errors;
}

/* The error fields of v, comma-separated, into buf (for failure messages). */
static inline const char *verdict_fields(const intent_verdict_t *v, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < v->n_errors && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : "", v->errors[i].field);
    return buf;
}

#endif
