/* intentctl.h -- the commands of intentctl, one file each, as main.c
 * dispatches them.
 *
 * Each command gets the global options (common.h) and its own argv, with
 * argv[0] "intentctl COMMAND" so that getopt's messages name it, and
 * returns the exit code (common.h).  Each has a help text of its own,
 * printed by `intentctl COMMAND --help` and `intentctl help COMMAND`. */
#ifndef INTENTCTL_H
#define INTENTCTL_H

#include <stdio.h>

#include "common.h"

/* send.c: check and publish intents. */
int cmd_send(common_t *c, int argc, char **argv);
void send_help(FILE *out);

/* tail.c: print the result topics' events. */
int cmd_tail(common_t *c, int argc, char **argv);
void tail_help(FILE *out);

/* dlq.c: list and replay the dead-letter topic. */
int cmd_dlq(common_t *c, int argc, char **argv);
void dlq_help(FILE *out);

/* state.c: the kill switch (halt, reduce, resume), operators' cancels
 * (cancel, halt --cancel-open) and its list (trading). */
int cmd_halt(common_t *c, int argc, char **argv);
int cmd_cancel(common_t *c, int argc, char **argv);
int cmd_reduce(common_t *c, int argc, char **argv);
int cmd_resume(common_t *c, int argc, char **argv);
void state_help(FILE *out);
int cmd_trading(common_t *c, int argc, char **argv);
void trading_help(FILE *out);

/* quota.c: the trade quotas and the shared Alpaca budget. */
int cmd_quota(common_t *c, int argc, char **argv);
void quota_help(FILE *out);

/* positions.c: positions by bot, by user and for the account, from the
 * ledger. */
int cmd_positions(common_t *c, int argc, char **argv);
void positions_help(FILE *out);

/* bot.c: the bots that may sign intents, their keys and users. */
int cmd_bot(common_t *c, int argc, char **argv);
void bot_help(FILE *out);

#endif
