/* test_intent.c -- tests for worker/intent.c (contract section 3).
 *
 * A table of intents, each with the verdict intent_decode must give: the
 * status, the DLQ reason for unreadable ones, or the exact set of fields
 * named in errors[] for invalid ones.  Then checks of decoded values (exact
 * decimals, defaults, expiry, meta, client_order_id), of the content hash,
 * and of concurrent use from several threads.  In the JSON texts of the
 * table a single quote stands for a double quote, for readability.
 * Prints every failed case and a final "N passed, M failed" line; exits
 * non-zero on any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

#define MAX_AGE 60000
#define ID "'intent_id':'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f'"
#define WHO ID ",'bot_id':'bot-1','user_id':'user_1'"
#define BASE WHO ",'symbol':'AAPL','side':'buy','created_at':'2026-11-23T13:21:25Z'"
#define MKT BASE ",'type':'market'"

typedef struct icase {
    const char *name;
    const char *json;
    intent_source_t source;
    intent_status_t status;
    const char *expect; /* DLQ reason, or comma-separated error fields */
} icase_t;

static const icase_t cases[] = {
    /* well-formed */
    {"market qty string", "{" MKT ",'qty':'10'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"market qty number", "{" MKT ",'qty':10}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"qty number exponent", "{" MKT ",'qty':1e2}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"qty fraction number", "{" MKT ",'qty':0.5}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"whitespace everywhere", " \n\t{ " ID " , 'bot_id' : 'b' ,'user_id':'u', 'symbol':'AAPL',"
     "'side':'sell','type':'market','qty': 3 ,'created_at':'2026-11-23T13:21:25Z' } \r\n",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"user topic without bot_id", "{" ID ",'user_id':'u','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_USER, INTENT_VALID, ""},
    {"everything", "{" BASE ",'type':'stop_limit','qty':'1.5','limit_price':'187.25',"
     "'stop_price':187.1,'time_in_force':'gtc','extended_hours':true,"
     "'expires_at':'2026-11-23T13:22:25.500+00:00','meta':{'strategy':'x','confidence':0.7}}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},

    /* unreadable -> DLQ */
    {"not json", "{'intent_id':", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"not json text", "hello", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"empty", "", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"trailing garbage", "{" MKT ",'qty':1} x", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"two objects", "{" MKT ",'qty':1}{}", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"bad number 01", "{" MKT ",'qty':01}", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"bad number 1.", "{" MKT ",'qty':1.}", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"duplicate key", "{" MKT ",'qty':'1','qty':'2'}", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"duplicate key via escape", "{" MKT ",'qty':'1','q\\u0074y':'2'}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "not_json"},
    {"duplicate key in meta", "{" MKT ",'qty':'1','meta':{'a':1,'a':2}}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "not_json"},
    {"invalid utf-8", "{" MKT ",'qty':'1','meta':{'a':'\xff'}}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "not_json"},
    {"unbalanced brackets", "{" MKT ",'qty':'1','meta':{'a':[1}}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "not_json"},
    {"array", "[{" MKT ",'qty':'1'}]", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_object"},
    {"string", "'hello'", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_object"},
    {"number", "42", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_object"},
    {"null", "null", INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_object"},
    {"intent_id missing", "{'bot_id':'b','user_id':'u','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':1,'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "no_intent_id"},
    {"intent_id number", "{'intent_id':7,'qty':1}", INTENT_SOURCE_BOT, INTENT_UNREADABLE,
     "no_intent_id"},
    {"intent_id not uuid", "{'intent_id':'order-1','qty':1}", INTENT_SOURCE_BOT,
     INTENT_UNREADABLE, "no_intent_id"},
    {"intent_id uuid without dashes", "{'intent_id':'0b9f5c8e1d2a4c3b9e8f7a6b5c4d3e2f'}",
     INTENT_SOURCE_BOT, INTENT_UNREADABLE, "no_intent_id"},
    {"intent_id non-hex", "{'intent_id':'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2g'}",
     INTENT_SOURCE_BOT, INTENT_UNREADABLE, "no_intent_id"},
    {"intent_id braces", "{'intent_id':'{0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f}'}",
     INTENT_SOURCE_BOT, INTENT_UNREADABLE, "no_intent_id"},
    {"upper-case uuid is fine", "{'intent_id':'0B9F5C8E-1D2A-4C3B-9E8F-7A6B5C4D3E2F',"
     "'bot_id':'b','user_id':'u','symbol':'AAPL','side':'buy','type':'market','qty':1,"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},

    /* bot_id / user_id */
    {"bot_id missing on bot topic", "{" ID ",'user_id':'u','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "bot_id"},
    {"bot_id on user topic", "{" MKT ",'qty':'1'}", INTENT_SOURCE_USER, INTENT_INVALID, "bot_id"},
    {"bot_id bad chars", "{" ID ",'bot_id':'bot 1','user_id':'u','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "bot_id"},
    {"bot_id 64 chars", "{" ID ",'bot_id':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
     "'user_id':'u','symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"bot_id 65 chars", "{" ID ",'bot_id':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
     "'user_id':'u','symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "bot_id"},
    {"bot_id number", "{" ID ",'bot_id':12,'user_id':'u','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "bot_id"},
    {"user_id missing", "{" ID ",'bot_id':'b','symbol':'AAPL','side':'buy','type':'market',"
     "'qty':'1','created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "user_id"},
    {"user_id empty", "{" ID ",'bot_id':'b','user_id':'','symbol':'AAPL','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "user_id"},
    {"user_id with NUL", "{" ID ",'bot_id':'b','user_id':'u\\u0000x','symbol':'AAPL',"
     "'side':'buy','type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "user_id"},

    /* symbol */
    {"symbol lower case", "{" WHO ",'symbol':'aapl','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "symbol"},
    {"symbol with dot", "{" WHO ",'symbol':'BRK.B','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"symbol crypto pair, 15 chars", "{" WHO ",'symbol':'ABCDEFGHIJ/USDT','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"symbol 16 chars", "{" WHO ",'symbol':'ABCDEFGHIJK/USDT','side':'buy','type':'market',"
     "'qty':'1','created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "symbol"},
    {"symbol empty", "{" WHO ",'symbol':'','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "symbol"},
    {"symbol space", "{" WHO ",'symbol':'AA PL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "symbol"},
    {"symbol escaped quote and brace", "{" WHO ",'symbol':'A\\'}','side':'buy',"
     "'type':'market','qty':'1','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "symbol"},
    {"symbol missing", "{" WHO ",'side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "symbol"},

    /* side / type */
    {"side sell", "{" WHO ",'symbol':'AAPL','side':'sell','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"side hold", "{" WHO ",'symbol':'AAPL','side':'hold','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "side"},
    {"side BUY", "{" WHO ",'symbol':'AAPL','side':'BUY','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "side"},
    {"side missing", "{" WHO ",'symbol':'AAPL','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "side"},
    {"type missing", "{" BASE ",'qty':'1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "type"},
    {"type Market", "{" BASE ",'type':'Market','qty':'1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "type"},
    {"type number", "{" BASE ",'type':1,'qty':'1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "type"},

    /* qty */
    {"qty 9 decimals", "{" MKT ",'qty':'0.123456789'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"qty 10 decimals", "{" MKT ",'qty':'0.1234567891'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty 9 decimals number", "{" MKT ",'qty':0.123456789}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"qty 10 decimals number", "{" MKT ",'qty':0.1234567891}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty 10 decimals by exponent", "{" MKT ",'qty':1e-10}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty trailing zeros are not places", "{" MKT ",'qty':'1.0000000000'}", INTENT_SOURCE_BOT,
     INTENT_VALID, ""},
    {"qty zero", "{" MKT ",'qty':0}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty zero string", "{" MKT ",'qty':'0.0'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty negative", "{" MKT ",'qty':-1}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty negative string", "{" MKT ",'qty':'-1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty exponent in string", "{" MKT ",'qty':'1e3'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty plus in string", "{" MKT ",'qty':'+1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty leading space", "{" MKT ",'qty':' 1'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty .5", "{" MKT ",'qty':'.5'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty 1.", "{" MKT ",'qty':'1.'}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty empty", "{" MKT ",'qty':''}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty boolean", "{" MKT ",'qty':true}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty null", "{" MKT ",'qty':null}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty array", "{" MKT ",'qty':[1]}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty beyond double range", "{" MKT ",'qty':1e400}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},
    {"qty 30-digit integer is exact", "{" MKT ",'qty':123456789012345678901234567890}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},

    /* notional */
    {"notional 2 decimals", "{" MKT ",'notional':'100.25'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"notional number", "{" MKT ",'notional':100.25}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"notional 3 decimals", "{" MKT ",'notional':'100.255'}", INTENT_SOURCE_BOT, INTENT_INVALID, "notional"},
    {"notional 3 decimals number", "{" MKT ",'notional':100.255}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "notional"},
    {"notional zero", "{" MKT ",'notional':0}", INTENT_SOURCE_BOT, INTENT_INVALID, "notional"},
    {"notional with limit type", "{" BASE ",'type':'limit','notional':'100','limit_price':'10'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "notional"},
    {"qty and notional", "{" MKT ",'qty':'1','notional':'100'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "notional"},
    {"neither qty nor notional", "{" MKT "}", INTENT_SOURCE_BOT, INTENT_INVALID, "qty"},

    /* limit_price / stop_price */
    {"limit with price", "{" BASE ",'type':'limit','qty':'1','limit_price':'187.25'}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"limit sub-penny price", "{" BASE ",'type':'limit','qty':'1','limit_price':187.12345}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"limit without price", "{" BASE ",'type':'limit','qty':'1'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "limit_price"},
    {"limit price zero", "{" BASE ",'type':'limit','qty':'1','limit_price':'0'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "limit_price"},
    {"limit price negative", "{" BASE ",'type':'limit','qty':'1','limit_price':-5}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "limit_price"},
    {"limit price as object", "{" BASE ",'type':'limit','qty':'1','limit_price':{'v':1}}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "limit_price"},
    {"market with limit_price", "{" MKT ",'qty':'1','limit_price':'10'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "limit_price"},
    {"limit with stop_price", "{" BASE ",'type':'limit','qty':'1','limit_price':'10',"
     "'stop_price':'9'}", INTENT_SOURCE_BOT, INTENT_INVALID, "stop_price"},
    {"stop with price", "{" BASE ",'type':'stop','qty':'1','stop_price':'180'}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"stop without price", "{" BASE ",'type':'stop','qty':'1'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "stop_price"},
    {"stop with limit_price", "{" BASE ",'type':'stop','qty':'1','stop_price':'180',"
     "'limit_price':'181'}", INTENT_SOURCE_BOT, INTENT_INVALID, "limit_price"},
    {"stop_limit with both", "{" BASE ",'type':'stop_limit','qty':'1','stop_price':'180',"
     "'limit_price':'181'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"stop_limit with neither", "{" BASE ",'type':'stop_limit','qty':'1'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "limit_price,stop_price"},
    {"stop price bad string", "{" BASE ",'type':'stop','qty':'1','stop_price':'1,80'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "stop_price"},

    /* time_in_force / extended_hours */
    {"tif gtc", "{" MKT ",'qty':'1','time_in_force':'gtc'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"tif fok", "{" MKT ",'qty':'1','time_in_force':'fok'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"tif GTC", "{" MKT ",'qty':'1','time_in_force':'GTC'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "time_in_force"},
    {"tif gtd", "{" MKT ",'qty':'1','time_in_force':'gtd'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "time_in_force"},
    {"tif number", "{" MKT ",'qty':'1','time_in_force':1}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "time_in_force"},
    {"extended_hours false", "{" MKT ",'qty':'1','extended_hours':false}", INTENT_SOURCE_BOT,
     INTENT_VALID, ""},
    {"extended_hours string", "{" MKT ",'qty':'1','extended_hours':'true'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "extended_hours"},
    {"extended_hours number", "{" MKT ",'qty':'1','extended_hours':1}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "extended_hours"},
    {"extended_hours null", "{" MKT ",'qty':'1','extended_hours':null}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "extended_hours"},

    /* created_at / expires_at */
    {"created_at missing", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"created_at Feb 30", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-02-30T10:00:00Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"created_at no offset", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25'}", INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"created_at hour 24", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T24:00:00Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"created_at epoch number", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market',"
     "'qty':'1','created_at':1795440085}", INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"created_at lower t z and offset", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market',"
     "'qty':'1','created_at':'2026-11-23t08:21:25.25-05:00'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"created_at too long", "{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
     "'created_at':'2026-11-23T13:21:25.12345678901234567890123456789Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "created_at"},
    {"expires_at valid", "{" MKT ",'qty':'1','expires_at':'2026-11-23T13:30:00Z'}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"expires_at in the past is valid", "{" MKT ",'qty':'1','expires_at':'2000-01-01T00:00:00Z'}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"expires_at bad", "{" MKT ",'qty':'1','expires_at':'tomorrow'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "expires_at"},
    {"expires_at null", "{" MKT ",'qty':'1','expires_at':null}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "expires_at"},

    /* meta */
    {"meta object", "{" MKT ",'qty':'1','meta':{'strategy':'m','nested':{'a':[1,2,{'b':null}]}}}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"meta empty", "{" MKT ",'qty':'1','meta':{}}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"meta tricky strings", "{" MKT ",'qty':'1','meta':{'n':'a } ] \\' { [ \\\\','k':1e400}}",
     INTENT_SOURCE_BOT, INTENT_UNREADABLE, "not_json"},
    {"meta tricky strings ok", "{" MKT ",'qty':'1','meta':{'n':'a } ] \\' { [ \\\\'}}",
     INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"meta array", "{" MKT ",'qty':'1','meta':[1]}", INTENT_SOURCE_BOT, INTENT_INVALID, "meta"},
    {"meta string", "{" MKT ",'qty':'1','meta':'x'}", INTENT_SOURCE_BOT, INTENT_INVALID, "meta"},
    {"meta null", "{" MKT ",'qty':'1','meta':null}", INTENT_SOURCE_BOT, INTENT_INVALID, "meta"},

    /* unknown fields */
    {"unknown field", "{" MKT ",'qty':'1','price':1}", INTENT_SOURCE_BOT, INTENT_INVALID, "price"},
    {"unknown field huge number", "{" MKT ",'qty':'1','x':1e400}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "x"},
    {"two unknown fields", "{" MKT ",'qty':'1','a':{},'Symbol':'X'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "a,Symbol"},
    {"source is not a field", "{" MKT ",'qty':'1','source':'bot'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "source"},
    {"escaped known key", "{" MKT ",'q\\u0074y':2.50}", INTENT_SOURCE_BOT, INTENT_VALID, ""},

    /* several errors at once */
    {"many errors", "{" ID ",'user_id':'u u','symbol':'aapl','side':'hold','type':'limit',"
     "'qty':-1,'notional':'5','stop_price':'1','time_in_force':'x','extended_hours':0,"
     "'created_at':'yesterday','expires_at':5,'meta':[],'extra':1}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "bot_id,user_id,symbol,side,qty,notional,limit_price,stop_price,"
     "time_in_force,extended_hours,created_at,expires_at,meta,extra"},
    {"many errors, user topic", "{" ID ",'bot_id':'b','user_id':'u','symbol':'AAPL',"
     "'side':'buy','type':'stop','qty':'0.1234567890123','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_USER, INTENT_INVALID, "bot_id,qty,stop_price"},
};

static int passed, failed;

static void fail(const char *fmt, const char *name, const char *what) {
    failed++;
    printf(fmt, name, what);
}

/* Replaces ' with " into a malloc'd copy. */
static char *dq(const char *s) {
    char *out = strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'') *p = '"';
    return out;
}

static void decode_text(const char *json_sq, intent_source_t src, intent_t *in,
                        intent_verdict_t *v) {
    char *json = dq(json_sq);
    intent_decode(json, strlen(json), src, MAX_AGE, in, v);
    free(json);
}

static void print_verdict(const intent_verdict_t *v) {
    printf("    status %d dlq %s detail \"%s\"\n", (int)v->status,
           v->dlq_reason ? v->dlq_reason : "-", v->detail);
    for (int i = 0; i < v->n_errors; i++)
        printf("    error %s: %s\n", v->errors[i].field, v->errors[i].message);
}

/* 1 if the error fields of v are exactly the comma-separated set want. */
static int same_fields(const intent_verdict_t *v, const char *want) {
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

static void run_case(const icase_t *c) {
    intent_t in;
    intent_verdict_t v;
    int ok;

    decode_text(c->json, c->source, &in, &v);
    ok = v.status == c->status;
    if (ok && c->status == INTENT_UNREADABLE)
        ok = v.dlq_reason && strcmp(v.dlq_reason, c->expect) == 0 &&
             v.detail[0] != '\0' && v.n_errors == 0;
    else if (ok)
        ok = same_fields(&v, c->expect) && v.dlq_reason == NULL &&
             strlen(in.content_hash) == 64 && strlen(in.intent_id) == 36;
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: want status %d %s\n", c->name, (int)c->status,
               c->expect);
        print_verdict(&v);
    }
    intent_free(&in);
}

/* Decodes json and checks one condition with a name. */
static void check(const char *name, int cond) {
    if (cond) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s\n", name);
    }
}

typedef struct value_case {
    const char *json_tail; /* appended to MKT or BASE */
    const char *qty, *notional, *limit_price, *stop_price;
} value_case_t;

static void check_values(void) {
    static const value_case_t vc[] = {
        {",'qty':1e2}", "100", NULL, NULL, NULL},
        {",'qty':1.50}", "1.5", NULL, NULL, NULL},
        {",'qty':0.1e1}", "1", NULL, NULL, NULL},
        {",'qty':'0010.500'}", "10.5", NULL, NULL, NULL},
        {",'qty':1E-9}", "0.000000001", NULL, NULL, NULL},
        {",'qty':123456789012345678901234567890}",
         "123456789012345678901234567890", NULL, NULL, NULL},
        {",'qty':0.30000000000000004e9}", "300000000.00000004", NULL, NULL, NULL},
        {",'notional':'100.10'}", NULL, "100.1", NULL, NULL},
        {",'notional':2.5e1}", NULL, "25", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(vc) / sizeof(vc[0]); i++) {
        char json[1024];
        intent_t in;
        intent_verdict_t v;
        int ok;
        snprintf(json, sizeof(json), "{" MKT "%s", vc[i].json_tail);
        decode_text(json, INTENT_SOURCE_BOT, &in, &v);
        ok = v.status == INTENT_VALID &&
             in.has_qty == (vc[i].qty != NULL) &&
             in.has_notional == (vc[i].notional != NULL) &&
             (!vc[i].qty || !strcmp(in.qty.text, vc[i].qty)) &&
             (!vc[i].notional || !strcmp(in.notional.text, vc[i].notional));
        if (!ok) {
            fail("FAIL value %s: got %s\n", vc[i].json_tail,
                 in.has_qty ? in.qty.text : in.notional.text);
            print_verdict(&v);
        } else {
            passed++;
        }
        intent_free(&in);
    }

    /* All fields of a full intent. */
    {
        intent_t in;
        intent_verdict_t v;
        char coid[64];
        decode_text("{" BASE ",'type':'stop_limit','qty':'1.5','limit_price':'187.250',"
                    "'stop_price':187.1,'time_in_force':'gtc','extended_hours':true,"
                    "'expires_at':'2026-11-23T13:22:25.500+00:00',"
                    "'meta':{ 'strategy' : 'x y', 'confidence':0.70, 'l':[1, 2] }}",
                    INTENT_SOURCE_BOT, &in, &v);
        check("full: valid", v.status == INTENT_VALID);
        check("full: ids", !strcmp(in.bot_id, "bot-1") && !strcmp(in.user_id, "user_1"));
        check("full: symbol side type", !strcmp(in.symbol, "AAPL") &&
              !strcmp(in.side, "buy") && !strcmp(in.type, "stop_limit"));
        check("full: prices", in.has_limit_price && in.has_stop_price &&
              !strcmp(in.limit_price.text, "187.25") &&
              !strcmp(in.stop_price.text, "187.1") && !in.has_notional);
        check("full: tif and extended", !strcmp(in.time_in_force, "gtc") &&
              in.extended_hours == 1);
        check("full: times", !strcmp(in.created_at, "2026-11-23T13:21:25Z") &&
              in.created_at_ms == 1795440085000LL &&
              !strcmp(in.expires_at, "2026-11-23T13:22:25.500+00:00") &&
              in.expires_at_ms == 1795440145500LL);
        check("full: meta kept as sent, compact",
              in.meta_json && !strcmp(in.meta_json,
              "{\"strategy\":\"x y\",\"confidence\":0.70,\"l\":[1,2]}"));
        intent_client_order_id(&in, coid, sizeof(coid));
        check("client_order_id", !strcmp(coid, "ow-0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f") &&
              strlen(coid) == 39);
        check("expired at expiry", intent_is_expired(&in, 1795440145500LL));
        check("not expired before expiry", !intent_is_expired(&in, 1795440145499LL));
        intent_free(&in);
        check("intent_free clears meta", in.meta_json == NULL);
    }

    /* Defaults and expiry without expires_at. */
    {
        intent_t in;
        intent_verdict_t v;
        decode_text("{" MKT ",'qty':'1'}", INTENT_SOURCE_BOT, &in, &v);
        check("default tif day", v.status == INTENT_VALID &&
              !strcmp(in.time_in_force, "day"));
        check("default extended_hours 0", in.extended_hours == 0);
        check("no meta -> NULL", in.meta_json == NULL);
        check("expiry = created_at + max_age", in.expires_at[0] == '\0' &&
              in.expires_at_ms == 1795440085000LL + MAX_AGE);
        check("expiry check uses default expiry",
              !intent_is_expired(&in, 1795440085000LL + MAX_AGE - 1) &&
              intent_is_expired(&in, 1795440085000LL + MAX_AGE));
        intent_free(&in);
        /* max_age_ms is honoured */
        {
            char *json = dq("{" MKT ",'qty':'1'}");
            intent_decode(json, strlen(json), INTENT_SOURCE_BOT, 5000, &in, &v);
            free(json);
            check("expiry with other max_age", in.expires_at_ms == 1795440090000LL);
            intent_free(&in);
        }
        /* created_at before 1970 (negative ms) expires max_age after it; it
         * overflowed and never expired (found by tests/fuzz/fuzz_intent). */
        decode_text("{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
                    "'created_at':'1969-12-31T23:59:59Z'}", INTENT_SOURCE_BOT, &in, &v);
        check("created_at before 1970 expires", v.status == INTENT_VALID &&
              in.created_at_ms == -1000 && in.expires_at_ms == -1000 + MAX_AGE &&
              intent_is_expired(&in, 1795440085000LL));
        intent_free(&in);
        {
            char *json = dq("{" MKT ",'qty':'1'}");
            intent_decode(json, strlen(json), INTENT_SOURCE_BOT, INT64_MAX, &in, &v);
            free(json);
            check("huge max_age saturates", in.expires_at_ms == INT64_MAX);
            intent_free(&in);
        }
    }

    /* An invalid intent still carries what could be read. */
    {
        intent_t in;
        intent_verdict_t v;
        decode_text("{" MKT ",'qty':'-1','meta':{'s':1}}", INTENT_SOURCE_BOT, &in, &v);
        check("invalid keeps readable fields", v.status == INTENT_INVALID &&
              !strcmp(in.bot_id, "bot-1") && !strcmp(in.user_id, "user_1") &&
              !strcmp(in.symbol, "AAPL") && !strcmp(in.side, "buy") &&
              in.meta_json && !strcmp(in.meta_json, "{\"s\":1}") &&
              strlen(in.content_hash) == 64);
        intent_free(&in);
    }

    /* Error messages that the contract names. */
    {
        intent_t in;
        intent_verdict_t v;
        decode_text("{" WHO ",'symbol':'aapl','side':'buy','type':'market','qty':'1',"
                    "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, &in, &v);
        check("lower case symbol message", v.n_errors == 1 &&
              strstr(v.errors[0].message, "must be upper case") != NULL &&
              in.symbol[0] == '\0');
        intent_free(&in);
        decode_text("{" MKT ",'qty':'1','side':5}", INTENT_SOURCE_BOT, &in, &v);
        check("duplicate side is not_json", v.status == INTENT_UNREADABLE &&
              !strcmp(v.dlq_reason, "not_json"));
        intent_free(&in);
        decode_text("{" WHO ",'symbol':'AAPL','side':5,'type':'market','qty':'1',"
                    "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, &in, &v);
        check("type error says must be a string", v.n_errors == 1 &&
              !strcmp(v.errors[0].field, "side") &&
              strstr(v.errors[0].message, "must be a string") != NULL);
        intent_free(&in);
        decode_text("{" MKT ",'qty':'1','extended_hours':'yes'}", INTENT_SOURCE_BOT, &in, &v);
        check("type error says must be a boolean", v.n_errors == 1 &&
              strstr(v.errors[0].message, "must be a boolean") != NULL);
        intent_free(&in);
        decode_text("{" MKT ",'qty':'1','this_is_a_very_long_unknown_field_name_indeed':1}",
                    INTENT_SOURCE_BOT, &in, &v);
        check("unknown field name truncated", v.n_errors == 1 &&
              !strcmp(v.errors[0].field, "this_is_a_very_long_unknown_fie"));
        intent_free(&in);
        decode_text("{" MKT ",'qty':'1','\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                    "\xc3\xa9\xc3\xa9':1}", INTENT_SOURCE_BOT, &in, &v);
        check("unknown field truncated on a UTF-8 boundary", v.n_errors == 1 &&
              strlen(v.errors[0].field) == 30);
        intent_free(&in);
    }
}

static void check_hashes(void) {
    static const char *const same[] = {
        "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']}}",
        " {\n 'meta' : { 'b' : [ 1 , 'x' ] , 'a' : 1 } ,\n'qty' : 10 ," BASE ",'type':'market'} ",
        "{" MKT ",'qty':1e1,'meta':{'b':[1,'x'],'a':1},'time_in_force':'day'}",
        "{" MKT ",'qty':'10.000','extended_hours':false,'meta':{'a':1,'b':[1,'x']}}",
    };
    static const char *const differ[] = {
        "{" MKT ",'qty':'11','meta':{'a':1,'b':[1,'x']}}",
        "{" MKT ",'qty':'10','meta':{'a':2,'b':[1,'x']}}",
        "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'time_in_force':'gtc'}",
        "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'extended_hours':true}",
        "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'expires_at':'2026-11-23T13:30:00Z'}",
        "{" MKT ",'notional':'10','meta':{'a':1,'b':[1,'x']}}",
        "{" MKT ",'qty':'10','meta':{'a':1,'b':['x',1]}}",
        "{" MKT ",'qty':'10'}",
    };
    intent_t in;
    intent_verdict_t v;
    char ref[65], h[65];

    decode_text(same[0], INTENT_SOURCE_BOT, &in, &v);
    snprintf(ref, sizeof(ref), "%s", in.content_hash);
    check("hash: reference valid", v.status == INTENT_VALID && strlen(ref) == 64);
    intent_free(&in);
    for (size_t i = 1; i < sizeof(same) / sizeof(same[0]); i++) {
        decode_text(same[i], INTENT_SOURCE_BOT, &in, &v);
        if (v.status == INTENT_VALID && !strcmp(in.content_hash, ref)) {
            passed++;
        } else {
            fail("FAIL hash should equal: %s%s\n", same[i], "");
            print_verdict(&v);
        }
        intent_free(&in);
    }
    for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
        decode_text(differ[i], INTENT_SOURCE_BOT, &in, &v);
        if (strlen(in.content_hash) == 64 && strcmp(in.content_hash, ref) != 0)
            passed++;
        else
            fail("FAIL hash should differ: %s%s\n", differ[i], "");
        intent_free(&in);
    }
    /* Same text from the other topic is other content. */
    decode_text("{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
                "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, &in, &v);
    snprintf(h, sizeof(h), "%s", in.content_hash);
    intent_free(&in);
    decode_text("{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
                "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_USER, &in, &v);
    check("hash: source matters", strcmp(h, in.content_hash) != 0);
    intent_free(&in);

    /* Invalid intents: same for reordering, different for a changed value. */
    decode_text("{" MKT ",'qty':-1,'zzz':5}", INTENT_SOURCE_BOT, &in, &v);
    snprintf(h, sizeof(h), "%s", in.content_hash);
    check("hash: invalid has a hash", v.status == INTENT_INVALID && strlen(h) == 64);
    intent_free(&in);
    decode_text("{'zzz':5, 'qty':-1, " MKT "}", INTENT_SOURCE_BOT, &in, &v);
    check("hash: invalid reordered equal", !strcmp(h, in.content_hash));
    intent_free(&in);
    decode_text("{" MKT ",'qty':-1,'zzz':6}", INTENT_SOURCE_BOT, &in, &v);
    check("hash: invalid changed unknown number differs", strcmp(h, in.content_hash) != 0);
    intent_free(&in);
    decode_text("{" MKT ",'qty':-1,'zzz':'5'}", INTENT_SOURCE_BOT, &in, &v);
    check("hash: invalid number vs string differs", strcmp(h, in.content_hash) != 0);
    intent_free(&in);
}

/* A raw NUL byte anywhere is not JSON.  jansson 2.14 accepts one after a
 * number, which inside meta cut the stored meta short (the fuzzer found
 * it: tests/fuzz/regressions/fuzz_intent/nul-after-number-in-meta). */
static void check_nul(void) {
    static const char *const texts[] = {
        "{" MKT ",'qty':'1','meta':{'a':1@}}", /* after a number in meta */
        "{" MKT ",'qty':1@}",                  /* after a top-level number */
        "{" MKT ",'qty':'1','meta':{'a':'x@y'}}", /* inside a string */
        "{" MKT ",'qty':'1'}@",                /* after the object */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char *t = dq(texts[i]);
        size_t n = strlen(t);
        char *at = strchr(t, '@');
        *at = '\0';
        intent_t in;
        intent_verdict_t v;
        intent_decode(t, n, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
        char name[80];
        snprintf(name, sizeof(name), "NUL byte at offset %zu: DLQ not_json", (size_t)(at - t));
        check(name, v.status == INTENT_UNREADABLE && v.dlq_reason &&
                    !strcmp(v.dlq_reason, "not_json") && strstr(v.detail, "NUL byte"));
        intent_free(&in);
        free(t);
    }
}

static void check_sizes(void) {
    intent_t in;
    intent_verdict_t v;
    char *buf = malloc(INTENT_MAX_BYTES + 64);
    char *head = dq("{" MKT ",'qty':'1','meta':{'pad':'");
    size_t hl = strlen(head), n;

    /* meta of exactly 8192 bytes when compact ({"pad":"..."} = 10 + pad). */
    memcpy(buf, head, hl);
    n = hl;
    memset(buf + n, 'x', INTENT_MAX_META_BYTES - 10);
    n += INTENT_MAX_META_BYTES - 10;
    memcpy(buf + n, "\"}}", 3);
    n += 3;
    intent_decode(buf, n, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    check("meta of 8192 bytes is fine", v.status == INTENT_VALID && in.meta_json &&
          strlen(in.meta_json) == INTENT_MAX_META_BYTES);
    intent_free(&in);

    /* one byte more */
    memcpy(buf, head, hl);
    n = hl;
    memset(buf + n, 'x', INTENT_MAX_META_BYTES - 9);
    n += INTENT_MAX_META_BYTES - 9;
    memcpy(buf + n, "\"}}", 3);
    n += 3;
    intent_decode(buf, n, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    check("meta of 8193 bytes is too big", v.status == INTENT_INVALID && same_fields(&v, "meta") &&
          in.meta_json == NULL);
    intent_free(&in);

    /* meta under the limit only because of whitespace outside strings */
    memcpy(buf, head, hl - 8);
    n = hl - 8;
    memset(buf + n, ' ', 20000);
    n += 20000;
    memcpy(buf + n, "{\"pad\":\"xx\"}}", 13);
    n += 13;
    intent_decode(buf, n, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    check("meta size counts compact bytes", v.status == INTENT_VALID && in.meta_json &&
          !strcmp(in.meta_json, "{\"pad\":\"xx\"}"));
    intent_free(&in);

    /* a message of exactly 64 KiB is read; one byte more is too large */
    memcpy(buf, head, hl);
    n = hl;
    memset(buf + n, ' ', INTENT_MAX_BYTES - n - 6);
    n = INTENT_MAX_BYTES - 6;
    memcpy(buf + n, "x\"}}  ", 6);
    n += 6;
    intent_decode(buf, n, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    check("64 KiB message is read", n == INTENT_MAX_BYTES && v.status == INTENT_INVALID &&
          same_fields(&v, "meta"));
    intent_free(&in);
    buf[n] = ' ';
    intent_decode(buf, n + 1, INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    check("64 KiB + 1 is too_large", v.status == INTENT_UNREADABLE &&
          !strcmp(v.dlq_reason, "too_large"));
    intent_free(&in);

    /* more unknown fields than errors[] holds: capped, still invalid */
    {
        char *p = buf;
        p += sprintf(p, "%s", "{\"intent_id\":\"0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\"");
        for (int i = 0; i < 100; i++) p += sprintf(p, ",\"u%d\":%d", i, i);
        p += sprintf(p, "}");
        intent_decode(buf, (size_t)(p - buf), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
        check("errors capped at INTENT_MAX_ERRORS", v.status == INTENT_INVALID &&
              v.n_errors == INTENT_MAX_ERRORS);
        intent_free(&in);
    }

    /* deeply nested meta within jansson's limit, and beyond it */
    {
        char *p = buf;
        p += sprintf(p, "%s", head);
        p -= 8; /* back to: "meta": */
        for (int i = 0; i < 3000; i++) *p++ = '[';
        for (int i = 0; i < 3000; i++) *p++ = ']';
        *p++ = '}';
        intent_decode(buf, (size_t)(p - buf), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
        check("nesting beyond the limit is not_json", v.status == INTENT_UNREADABLE &&
              !strcmp(v.dlq_reason, "not_json"));
        intent_free(&in);
    }
    free(head);
    free(buf);

    /* message keys the ledger can record, and those it cannot */
    {
        char long_key[INTENT_MAX_KEY_BYTES + 2];
        memset(long_key, 'k', sizeof long_key);
        static const struct {
            const char *what, *key;
            size_t len;
            int ok;
        } keys[] = {
            {"no key", NULL, 0, 1},
            {"a bot_id", "bot-1", 5, 1},
            {"UTF-8 text", "b\xc3\xa9", 3, 1},
            {"4-byte UTF-8", "\xf0\x9f\x98\x80", 4, 1},
            {"invalid byte", "b\xff", 2, 0},
            {"truncated sequence", "b\xc3", 2, 0},
            {"overlong slash", "\xc0\xaf", 2, 0},
            {"surrogate", "\xed\xa0\x80", 3, 0},
            {"beyond U+10FFFF", "\xf4\x90\x80\x80", 4, 0},
            {"NUL byte", "b\0c", 3, 0},
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            memset(&v, 0, sizeof v);
            int ok = intent_key_ok(keys[i].key, keys[i].len, &v);
            char what[96];
            snprintf(what, sizeof what, "key: %s", keys[i].what);
            check(what, ok == keys[i].ok &&
                        (ok ? v.status == INTENT_VALID
                            : v.status == INTENT_UNREADABLE && !strcmp(v.dlq_reason, "bad_key")));
        }
        check("key of 256 bytes is fine", intent_key_ok(long_key, INTENT_MAX_KEY_BYTES, &v));
        check("key of 257 bytes is bad_key",
              !intent_key_ok(long_key, INTENT_MAX_KEY_BYTES + 1, &v) &&
              !strcmp(v.dlq_reason, "bad_key") && strstr(v.detail, "257 bytes"));
    }
}

/* The same decoding from several threads at once gives the same answers. */
typedef struct thread_arg {
    const char *json;
    const char *hash;
    int bad;
} thread_arg_t;

static void *thread_main(void *p) {
    thread_arg_t *a = p;
    for (int i = 0; i < 2000; i++) {
        intent_t in;
        intent_verdict_t v;
        intent_decode(a->json, strlen(a->json), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
        if (v.status != INTENT_VALID || strcmp(in.content_hash, a->hash) != 0 ||
            !in.meta_json)
            a->bad++;
        intent_free(&in);
    }
    return NULL;
}

static void check_threads(void) {
    char *json = dq("{" MKT ",'qty':1.5e1,'meta':{'k':[1,2,3],'s':'v'}}");
    pthread_t t[4];
    thread_arg_t a[4];
    intent_t in;
    intent_verdict_t v;
    int bad = 0;

    intent_decode(json, strlen(json), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    for (int i = 0; i < 4; i++) {
        a[i].json = json;
        a[i].hash = in.content_hash;
        a[i].bad = 0;
        pthread_create(&t[i], NULL, thread_main, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        bad += a[i].bad;
    }
    check("threads agree", v.status == INTENT_VALID && bad == 0);
    intent_free(&in);
    free(json);
}

int main(void) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    check_values();
    check_hashes();
    check_sizes();
    check_nul();
    check_threads();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
