/* synth.h -- the synthetic intents and broker orders of ow-ceiling
 * (bench/ceiling).
 *
 * An intent is a message as a bot sends it (a market buy, as ow-loadgen
 * sends), decoded by the worker's own intent_decode, with the origin a
 * consumer would give it; its order is the broker's answer for a market
 * order filled at once, parsed by the worker's own alpaca_parse_order. */
#ifndef CEILING_SYNTH_H
#define CEILING_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "alpaca_parse.h"
#include "config.h"
#include "intent.h"
#include "origin.h"

typedef struct synth_intent {
    char body[640];   /* the message as received */
    size_t len;
    char key[48];     /* its Kafka key: the bot */
    origin_t from;    /* topic, partition, offset, key */
    intent_t in;      /* decoded: free with synth_intent_free */
} synth_intent_t;

/* Intent seq of the run tagged tag, of bot (seq % bots), created now, into
 * *s.  0, or -1 with err if the worker's validator refuses it. */
int synth_intent_make(synth_intent_t *s, const config_t *cfg, uint32_t tag, uint32_t seq,
                      int bots, uint64_t *rng, char *err, size_t errlen);
void synth_intent_free(synth_intent_t *s);

/* The broker's answer for in's market order, filled at once, into *o
 * (free with alpaca_order_clear).  0, or -1 with err. */
int synth_order_filled(const intent_t *in, uint64_t *rng, alpaca_order_t *o, char *err,
                       size_t errlen);

/* A subject's id for the quota: the bot of intent seq. */
void synth_bot_id(uint32_t tag, uint32_t seq, int bots, char *out, size_t outlen);

#endif
