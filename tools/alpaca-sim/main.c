/* main.c -- alpaca-sim: a local stand-in for Alpaca's trading and market
 * data APIs, with a control API for tests (contract section 6).
 *
 * Owns the command line, the environment, signals and the process's life:
 * start, one log line; SIGTERM/SIGINT, one log line, everything freed,
 * exit 0.  API keys are read here and never printed.  Starts and joins
 * the matching engine's thread (engine.c), makes the trade_updates hub
 * (stream.c) and, at the stop, ends its connections before the server. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "engine.h"
#include "envfile.h"
#include "server.h"
#include "sim.h"
#include "stream.h"

static void main_usage(FILE *out)
{
    fprintf(out,
            "usage: alpaca-sim --port N [--host 127.0.0.1] [--seed N] [--tick-ms N]\n"
            "                  [--partial-fill-rate R] [--fill-on-submit] [--no-walk]\n"
            "                  [--stream-frames binary|text]\n"
            "\n"
            "Simulates Alpaca's trading API (/v2/account, /v2/orders, /v2/positions,\n"
            "/v2/clock, /v2/assets) and market data API (/v2/stocks/{symbol}/quotes/latest)\n"
            "on one port, plus a control API: GET /_sim/stats, GET|POST /_sim/faults,\n"
            "GET|POST /_sim/quotes, POST /_sim/reset, GET /_sim/health, GET|POST /_sim/config,\n"
            "POST /_sim/market, POST /_sim/account, POST /_sim/tick.\n"
            "Alpaca's trade_updates websocket is at ws://HOST:PORT/stream (same keys).\n"
            "Orders fill asynchronously like paper trading: a matching engine ticks every\n"
            "--tick-ms (default 100; 0 = only POST /_sim/tick), quotes walk randomly\n"
            "(seeded), partial_fill_rate (default 0.1) of eligible fills are partial.\n"
            "\n"
            "options:\n"
            "  --tick-ms N            engine period in ms, 0..60000 (env SIM_TICK_MS)\n"
            "  --partial-fill-rate R  0..1 (env SIM_PARTIAL_FILL_RATE)\n"
            "  --fill-on-submit       fill marketable orders inside the POST (env SIM_FILL_ON_SUBMIT=1)\n"
            "  --no-walk              quotes move only by POST /_sim/quotes (env SIM_QUOTE_WALK=0)\n"
            "  --stream-frames F      the stream's frames: binary (default, as paper) or text\n"
            "                         (env SIM_STREAM_FRAMES)\n"
            "\n"
            "environment:\n"
            "  ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY  if set, /v2 requests must carry\n"
            "                         them as APCA-API-KEY-ID / APCA-API-SECRET-KEY (else 401)\n"
            "  ALPACA_CALLS_PER_MIN   trading API requests allowed per key and period (200)\n"
            "  RATE_PERIOD_MS         the period of that limit in ms (60000)\n");
}

/* Parses a whole decimal integer in [min, max].  Returns 0 or -1. */
static int main_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int main_env_int(const char *name, long long def, long long min, long long max,
                        long long *out)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    if (main_parse_int(v, min, max, out) != 0) {
        fprintf(stderr, "alpaca-sim: %s must be an integer from %lld to %lld\n", name, min, max);
        return -1;
    }
    return 0;
}

/* Parses a rate in [0, 1].  Returns 0 or -1. */
static int main_parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* --stream-frames / SIM_STREAM_FRAMES: binary or text.  Returns 0 or -1. */
static int main_parse_frames(const char *v, int *text)
{
    if (strcmp(v, "binary") != 0 && strcmp(v, "text") != 0)
        return -1;
    *text = strcmp(v, "text") == 0;
    return 0;
}

/* SIM_* defaults of the run-time settings (the command line overrides). */
static int main_env_settings(book_settings_t *s)
{
    long long v;
    s->partial_fill_rate = 0.1;
    s->quote_walk = 1;
    s->fill_on_submit = 0;
    if (main_env_int("SIM_TICK_MS", 100, 0, 60000, &v) != 0)
        return -1;
    s->tick_ms = v;
    if (main_env_int("SIM_FILL_ON_SUBMIT", 0, 0, 1, &v) != 0)
        return -1;
    s->fill_on_submit = (int)v;
    if (main_env_int("SIM_QUOTE_WALK", 1, 0, 1, &v) != 0)
        return -1;
    s->quote_walk = (int)v;
    const char *r = getenv("SIM_PARTIAL_FILL_RATE");
    if (r && r[0] && main_parse_rate(r, &s->partial_fill_rate) != 0) {
        fprintf(stderr, "alpaca-sim: SIM_PARTIAL_FILL_RATE must be a number from 0 to 1\n");
        return -1;
    }
    return 0;
}

/* Applies one command-line option that takes a value.  Returns 0, or -1
 * with a message printed. */
static int main_option(const char *a, const char *val, sim_config_t *cfg)
{
    long long v;
    if (strcmp(a, "--port") == 0) {
        if (main_parse_int(val, 1, 65535, &v) != 0) {
            fprintf(stderr, "alpaca-sim: --port must be 1..65535\n");
            return -1;
        }
        cfg->port = (int)v;
    } else if (strcmp(a, "--host") == 0) {
        if (strlen(val) >= sizeof(cfg->host)) {
            fprintf(stderr, "alpaca-sim: --host too long\n");
            return -1;
        }
        snprintf(cfg->host, sizeof(cfg->host), "%s", val);
    } else if (strcmp(a, "--seed") == 0) {
        if (main_parse_int(val, 0, INT64_MAX, &v) != 0) {
            fprintf(stderr, "alpaca-sim: --seed must be a non-negative integer\n");
            return -1;
        }
        cfg->seed = (uint64_t)v;
    } else if (strcmp(a, "--tick-ms") == 0) {
        if (main_parse_int(val, 0, 60000, &v) != 0) {
            fprintf(stderr, "alpaca-sim: --tick-ms must be 0..60000\n");
            return -1;
        }
        cfg->start.tick_ms = v;
    } else if (strcmp(a, "--stream-frames") == 0) {
        if (main_parse_frames(val, &cfg->stream_text_frames) != 0) {
            fprintf(stderr, "alpaca-sim: --stream-frames must be binary or text\n");
            return -1;
        }
    } else if (strcmp(a, "--partial-fill-rate") == 0) {
        if (main_parse_rate(val, &cfg->start.partial_fill_rate) != 0) {
            fprintf(stderr, "alpaca-sim: --partial-fill-rate must be a number from 0 to 1\n");
            return -1;
        }
    } else {
        fprintf(stderr, "alpaca-sim: unknown option %s\n", a);
        return -1;
    }
    return 0;
}

/* The command line, over the defaults already in cfg.  Returns 0 or -1. */
static int main_args(int argc, char **argv, sim_config_t *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            main_usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--fill-on-submit") == 0) {
            cfg->start.fill_on_submit = 1;
            continue;
        }
        if (strcmp(a, "--no-walk") == 0) {
            cfg->start.quote_walk = 0;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "alpaca-sim: unknown or incomplete option %s\n", a);
            return -1;
        }
        if (main_option(a, argv[++i], cfg) != 0)
            return -1;
    }
    if (cfg->port == 0) {
        fprintf(stderr, "alpaca-sim: --port is required\n");
        return -1;
    }
    return 0;
}

/* The keys /v2 requests must carry: ALPACA_API_KEY_ID and
 * ALPACA_API_SECRET_KEY, or their _FILE forms (envfile.h), like the
 * worker; without a key id, no authentication.  Returns 0 or -1. */
static int main_keys(sim_config_t *cfg)
{
    char keybuf[ENVFILE_MAX + 1], secretbuf[ENVFILE_MAX + 1], err[256];
    const char *key, *secret;
    int rc = 0;
    if (envfile_get("ALPACA_API_KEY_ID", keybuf, &key, err, sizeof(err)) < 0 ||
        envfile_get("ALPACA_API_SECRET_KEY", secretbuf, &secret, err, sizeof(err)) < 0) {
        fprintf(stderr, "alpaca-sim: %s\n", err);
        rc = -1;
    } else if (key) {
        if (strlen(key) >= sizeof(cfg->key_id) ||
            (secret && strlen(secret) >= sizeof(cfg->secret_key))) {
            fprintf(stderr, "alpaca-sim: ALPACA_API_KEY_ID or ALPACA_API_SECRET_KEY too long\n");
            rc = -1;
        } else {
            cfg->auth_required = 1;
            snprintf(cfg->key_id, sizeof(cfg->key_id), "%s", key);
            snprintf(cfg->secret_key, sizeof(cfg->secret_key), "%s", secret ? secret : "");
        }
    }
    explicit_bzero(keybuf, sizeof(keybuf));
    explicit_bzero(secretbuf, sizeof(secretbuf));
    return rc;
}

static int main_config(int argc, char **argv, sim_config_t *cfg)
{
    long long v;
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
    cfg->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *frames = getenv("SIM_STREAM_FRAMES");
    if (frames && frames[0] && main_parse_frames(frames, &cfg->stream_text_frames) != 0) {
        fprintf(stderr, "alpaca-sim: SIM_STREAM_FRAMES must be binary or text\n");
        return -1;
    }
    if (main_env_settings(&cfg->start) != 0 || main_args(argc, argv, cfg) != 0 ||
        main_keys(cfg) != 0)
        return -1;
    if (main_env_int("ALPACA_CALLS_PER_MIN", 200, 1, 1000000, &v) != 0)
        return -1;
    cfg->calls_per_min = (int)v;
    if (main_env_int("RATE_PERIOD_MS", 60000, 1, 86400000LL, &v) != 0)
        return -1;
    cfg->rate_period_ms = v;
    return 0;
}

int main(int argc, char **argv)
{
    sim_config_t cfg;
    if (main_config(argc, argv, &cfg) != 0) {
        main_usage(stderr);
        return 2;
    }
    /* Block the stop signals before any thread starts, so that only the
     * sigwait() below receives them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* jansson picks its hash seed lazily on the first json_object(); pick
     * it now, before request threads could race on it. */
    json_object_seed(0);

    sim_t sim;
    if (sim_init(&sim, &cfg) != 0) {
        fprintf(stderr, "alpaca-sim: out of memory\n");
        return 1;
    }
    stream_t *stream = stream_create(&sim);
    if (stream == NULL) {
        fprintf(stderr, "alpaca-sim: out of memory\n");
        sim_destroy(&sim);
        return 1;
    }
    engine_t engine;
    if (engine_start(&engine, &sim) != 0) {
        fprintf(stderr, "alpaca-sim: cannot start the matching engine\n");
        stream_destroy(stream);
        sim_destroy(&sim);
        return 1;
    }
    char err[256];
    server_t *srv = server_start(cfg.host, cfg.port, app_handle, &sim, err, sizeof(err));
    if (srv == NULL) {
        fprintf(stderr, "alpaca-sim: %s\n", err);
        sim_begin_stop(&sim);
        engine_join(&engine);
        stream_destroy(stream);
        sim_destroy(&sim);
        return 1;
    }
    fprintf(stderr,
            "alpaca-sim: listening on %s:%d (auth %s, limit %d per %lld ms, seed %llu, "
            "tick %lld ms, partial fills %g, walk %s, fill on submit %s, stream frames %s)\n",
            cfg.host, cfg.port, cfg.auth_required ? "on" : "off", cfg.calls_per_min,
            (long long)cfg.rate_period_ms, (unsigned long long)cfg.seed,
            (long long)cfg.start.tick_ms, cfg.start.partial_fill_rate,
            cfg.start.quote_walk ? "on" : "off", cfg.start.fill_on_submit ? "on" : "off",
            cfg.stream_text_frames ? "text" : "binary");

    int sig = 0;
    sigwait(&stop_signals, &sig);

    sim_begin_stop(&sim);
    stream_stop(stream);
    server_stop(srv);
    engine_join(&engine);
    stream_destroy(stream);
    sim_destroy(&sim);
    fprintf(stderr, "alpaca-sim: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
}
