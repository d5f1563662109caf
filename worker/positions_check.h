/* positions_check.h -- the account's positions in the ledger against
 * Alpaca's.
 *
 * The ledger says what the worker's own orders came to in each symbol
 * (positions.h); Alpaca says what the account holds (GET /v2/positions).
 * Every POSITION_CHECK_MS one replica (a lease in the ledger) compares the
 * two, with one Alpaca call of the shared budget at the lowest priority, and
 * reports each symbol's difference as the gauge
 * order_worker_position_mismatch{symbol} and, when it appears, changes or
 * goes, as a log line naming the symbol and both quantities.  A position the
 * worker did not create (an order placed by hand, shares held before the
 * worker traded) is a legitimate difference: the line says so. */
#ifndef POSITIONS_CHECK_H
#define POSITIONS_CHECK_H

#include <stddef.h>
#include "budget.h"
#include "circuits.h"
#include "config.h"

typedef struct positions_check positions_check_t;

/* Starts the checker's thread, which competes for the lease and compares
 * when its turn comes.  NULL with err if it cannot start. */
positions_check_t *positions_check_start(const config_t *cfg, circuits_t *circuits,
                                         budget_t *budget, char *err, size_t errlen);

/* Stops and joins the thread (a comparison in progress gives up its wait for
 * a budget token) and frees everything. */
void positions_check_stop(positions_check_t *c);

#endif
