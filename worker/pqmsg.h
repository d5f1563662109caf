/* pqmsg.h -- libpq's messages made fit for one log line, and its notices
 * silenced: what every module that talks to PostgreSQL (ledger.c,
 * pgview.c, pgadmin.c) does with them. */
#ifndef PQMSG_H
#define PQMSG_H

#include <stddef.h>

/* Writes "WHAT: MSG" into out (MSG "failed" when NULL or empty), libpq's
 * newlines and tabs as spaces and its trailing spaces dropped: libpq's
 * messages span lines, a log line must not. */
void pqmsg_line(char *out, size_t len, const char *what, const char *msg);

/* A notice processor (PQsetNoticeProcessor) that drops every notice: the
 * server's NOTICEs would otherwise go to stderr, outside the log format. */
void pqmsg_ignore_notice(void *arg, const char *message);

#endif
