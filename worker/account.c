/* account.c -- the account gate (see account.h).
 *
 * A mutex guards the cached answer; the lane that finds it stale refreshes
 * it while holding the lock, so a burst of lanes makes one call, not one
 * each. */
#include "account.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timefmt.h"

struct account_gate {
    const config_t *cfg;
    pthread_mutex_t lock;
    int known;              /* an answer has been read */
    int can_trade;
    char reason[200];
    int64_t read_at_ms;     /* monotonic */
};

account_gate_t *account_gate_new(const config_t *cfg) {
    account_gate_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->cfg = cfg;
    pthread_mutex_init(&g->lock, NULL);
    return g;
}

void account_gate_free(account_gate_t *g) {
    if (!g) return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void account_gate_invalidate(account_gate_t *g) {
    pthread_mutex_lock(&g->lock);
    g->read_at_ms = 0;
    pthread_mutex_unlock(&g->lock);
}

int account_gate_check(account_gate_t *g, alpaca_t *client, char *reason,
                       size_t reason_len) {
    pthread_mutex_lock(&g->lock);
    int64_t now = timefmt_mono_ms();
    if (!g->known || now - g->read_at_ms >= g->cfg->account_refresh_ms) {
        alpaca_account_t acc;
        alpaca_error_t e;
        if (alpaca_get_account(client, &acc, &e) == ALPACA_OK) {
            int was = g->known ? g->can_trade : -1;
            g->can_trade = alpaca_account_can_trade(&acc, g->reason, sizeof(g->reason));
            g->known = 1;
            g->read_at_ms = now;
            if (was != g->can_trade)
                log_msg(g->can_trade ? LOG_INFO : LOG_WARN, "account_gate", NULL,
                        g->can_trade ? "account %s may trade" : "account %s may not trade: %s",
                        acc.account_number[0] ? acc.account_number : acc.id, g->reason);
        } else {
            log_msg(LOG_WARN, "account_unreadable", NULL, "%s", e.message);
        }
    }
    int ok = g->known ? g->can_trade : 1;
    snprintf(reason, reason_len, "%s", ok ? "" : g->reason);
    pthread_mutex_unlock(&g->lock);
    return ok;
}
