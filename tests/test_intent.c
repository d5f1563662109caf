/* test_intent.c -- tests for worker/intent.c (contract section 3): verdicts.
 *
 * A table of intents, each with the verdict intent_decode must give: the
 * status, the DLQ reason for unreadable ones, or the exact set of fields
 * named in errors[] for invalid ones.  Then the content hash, raw NUL bytes,
 * and concurrent use from several threads.  The decoded values (exact
 * decimals, defaults, expiry, meta, client_order_id), the error messages
 * and the size limits are in test_intent_values.c.  In the JSON texts a
 * single quote stands for a double quote, for readability (intent_fixture.h).
 * Runs on tests/unit.h (`test_intent --list` names the tests); a failed row
 * names its case, the verdict expected and the one that came. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"
#include "intent_fixture.h"
#include "unit.h"

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

    /* cancel requests (section 3b) */
    {"cancel", "{" CXL "}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"cancel on the user topic", "{" ID ",'user_id':'u','action':'cancel',"
     "'target_intent_id':'1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_USER, INTENT_VALID, ""},
    {"cancel with meta and expires_at", "{" CXL ",'meta':{'why':'rebalance'},"
     "'expires_at':'2026-11-23T13:30:00Z'}", INTENT_SOURCE_BOT, INTENT_VALID, ""},
    {"action place is an order", "{" MKT ",'qty':'1','action':'place'}", INTENT_SOURCE_BOT,
     INTENT_VALID, ""},
    {"action unknown", "{" MKT ",'qty':'1','action':'amend'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "action"},
    {"action number", "{" MKT ",'qty':'1','action':1}", INTENT_SOURCE_BOT, INTENT_INVALID, "action"},
    {"cancel without target", "{" WHO ",'action':'cancel','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "target_intent_id"},
    {"cancel target not a uuid", "{" WHO ",'action':'cancel','target_intent_id':'abc',"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "target_intent_id"},
    {"cancel target number", "{" WHO ",'action':'cancel','target_intent_id':7,"
     "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, INTENT_INVALID, "target_intent_id"},
    {"cancel of itself", "{" WHO ",'action':'cancel','target_intent_id':"
     "'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "target_intent_id"},
    {"cancel with order fields", "{" CXL ",'symbol':'AAPL','qty':'1','time_in_force':'day'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "symbol,qty,time_in_force"},
    {"cancel without created_at", "{" WHO ",'action':'cancel',"
     "'target_intent_id':'1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'}", INTENT_SOURCE_BOT,
     INTENT_INVALID, "created_at"},
    {"cancel without bot_id on the bot topic", "{" ID ",'user_id':'u','action':'cancel',"
     "'target_intent_id':'1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f','created_at':'2026-11-23T13:21:25Z'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "bot_id"},
    {"target on an order", "{" MKT ",'qty':'1','target_intent_id':'1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'}",
     INTENT_SOURCE_BOT, INTENT_INVALID, "target_intent_id"},
    {"cancel with an unknown field", "{" CXL ",'reason':'x'}", INTENT_SOURCE_BOT, INTENT_INVALID,
     "reason"},
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

/* One check per case: the status, then the DLQ reason (with a detail and no
 * errors) or exactly the expected error fields (with an intent_id and a
 * content hash). */
static void test_verdicts(void) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const icase_t *c = &cases[i];
        intent_t in;
        intent_verdict_t v;
        char fields[512];
        decode_text(c->json, c->source, &in, &v);
        int ok = v.status == c->status;
        if (ok && c->status == INTENT_UNREADABLE)
            ok = v.dlq_reason && strcmp(v.dlq_reason, c->expect) == 0 &&
                 v.detail[0] != '\0' && v.n_errors == 0;
        else if (ok)
            ok = same_fields(&v, c->expect) && v.dlq_reason == NULL &&
                 strlen(in.content_hash) == 64 && strlen(in.intent_id) == 36;
        EXPECT_MSG(ok,
                   "%s (expected status %d \"%s\", got status %d dlq %s fields \"%s\" hash \"%s\""
                   " detail \"%s\")",
                   c->name, (int)c->status, c->expect, (int)v.status,
                   v.dlq_reason ? v.dlq_reason : "-", verdict_fields(&v, fields, sizeof(fields)),
                   in.content_hash, v.detail);
        intent_free(&in);
    }
}

/* ---- content hash ---------------------------------------------------------- */

/* The reference intent, then texts of the same content and of other. */
static const char *const same_content[] = {
    "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']}}",
    " {\n 'meta' : { 'b' : [ 1 , 'x' ] , 'a' : 1 } ,\n'qty' : 10 ," BASE ",'type':'market'} ",
    "{" MKT ",'qty':1e1,'meta':{'b':[1,'x'],'a':1},'time_in_force':'day'}",
    "{" MKT ",'qty':'10.000','extended_hours':false,'meta':{'a':1,'b':[1,'x']}}",
    "{" MKT ",'qty':'10','action':'place','meta':{'a':1,'b':[1,'x']}}",
};
static const char *const other_content[] = {
    "{" MKT ",'qty':'11','meta':{'a':1,'b':[1,'x']}}",
    "{" MKT ",'qty':'10','meta':{'a':2,'b':[1,'x']}}",
    "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'time_in_force':'gtc'}",
    "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'extended_hours':true}",
    "{" MKT ",'qty':'10','meta':{'a':1,'b':[1,'x']},'expires_at':'2026-11-23T13:30:00Z'}",
    "{" MKT ",'notional':'10','meta':{'a':1,'b':[1,'x']}}",
    "{" MKT ",'qty':'10','meta':{'a':1,'b':['x',1]}}",
    "{" MKT ",'qty':'10'}",
    "{" CXL "}",
};

/* The content hash of single-quoted JSON into hash[65]; returns the status. */
static intent_status_t hash_of(const char *json_sq, intent_source_t src, char hash[65]) {
    intent_t in;
    intent_verdict_t v;
    decode_text(json_sq, src, &in, &v);
    snprintf(hash, 65, "%s", in.content_hash);
    intent_free(&in);
    return v.status;
}

static void test_hash_same_content(void) {
    char ref[65], h[65];
    EXPECT_INT(hash_of(same_content[0], INTENT_SOURCE_BOT, ref), INTENT_VALID);
    EXPECT_INT(strlen(ref), 64);
    for (size_t i = 1; i < sizeof(same_content) / sizeof(same_content[0]); i++) {
        intent_status_t st = hash_of(same_content[i], INTENT_SOURCE_BOT, h);
        EXPECT_MSG(st == INTENT_VALID && !strcmp(h, ref),
                   "hash of %s (expected valid with %s, got status %d with %s)",
                   same_content[i], ref, (int)st, h);
    }
}

static void test_hash_other_content(void) {
    char ref[65], h[65];
    hash_of(same_content[0], INTENT_SOURCE_BOT, ref);
    for (size_t i = 0; i < sizeof(other_content) / sizeof(other_content[0]); i++) {
        hash_of(other_content[i], INTENT_SOURCE_BOT, h);
        EXPECT_MSG(strlen(h) == 64 && strcmp(h, ref) != 0,
                   "hash of %s (expected 64 hex digits other than %s, got %s)",
                   other_content[i], ref, h);
    }
}

/* Same text from the other topic is other content. */
static void test_hash_source(void) {
    static const char json[] = "{" WHO ",'symbol':'AAPL','side':'buy','type':'market',"
                               "'qty':'1','created_at':'2026-11-23T13:21:25Z'}";
    char bot[65], user[65];
    hash_of(json, INTENT_SOURCE_BOT, bot);
    hash_of(json, INTENT_SOURCE_USER, user);
    EXPECT_MSG(strcmp(bot, user) != 0, "hash from the bot and user topics differ (both %s)", bot);
}

/* Invalid intents: same for reordering, different for a changed value. */
static void test_hash_invalid(void) {
    char h[65], other[65];
    EXPECT_INT(hash_of("{" MKT ",'qty':-1,'zzz':5}", INTENT_SOURCE_BOT, h), INTENT_INVALID);
    EXPECT_INT(strlen(h), 64);
    hash_of("{'zzz':5, 'qty':-1, " MKT "}", INTENT_SOURCE_BOT, other);
    EXPECT_STR(other, h);
    hash_of("{" MKT ",'qty':-1,'zzz':6}", INTENT_SOURCE_BOT, other);
    EXPECT_MSG(strcmp(h, other) != 0, "changed unknown number: hash differs (both %s)", h);
    hash_of("{" MKT ",'qty':-1,'zzz':'5'}", INTENT_SOURCE_BOT, other);
    EXPECT_MSG(strcmp(h, other) != 0, "number vs string: hash differs (both %s)", h);
}

/* A raw NUL byte anywhere is not JSON.  jansson 2.14 accepts one after a
 * number, which inside meta cut the stored meta short (the fuzzer found
 * it: tests/fuzz/regressions/fuzz_intent/nul-after-number-in-meta). */
static void test_nul_byte(void) {
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
        EXPECT_MSG(v.status == INTENT_UNREADABLE && v.dlq_reason &&
                       !strcmp(v.dlq_reason, "not_json") && strstr(v.detail, "NUL byte"),
                   "NUL byte at offset %zu (expected DLQ not_json naming the NUL byte, got status"
                   " %d dlq %s detail \"%s\")",
                   (size_t)(at - t), (int)v.status, v.dlq_reason ? v.dlq_reason : "-", v.detail);
        intent_free(&in);
        free(t);
    }
}

/* ---- threads ---------------------------------------------------------------- */

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

static void test_threads(void) {
    char *json = dq("{" MKT ",'qty':1.5e1,'meta':{'k':[1,2,3],'s':'v'}}");
    pthread_t t[4];
    thread_arg_t a[4];
    int started[4];
    intent_t in;
    intent_verdict_t v;
    int bad = 0;

    intent_decode(json, strlen(json), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    for (int i = 0; i < 4; i++) {
        a[i].json = json;
        a[i].hash = in.content_hash;
        a[i].bad = 0;
        started[i] = pthread_create(&t[i], NULL, thread_main, &a[i]) == 0;
    }
    for (int i = 0; i < 4; i++) {
        if (!started[i]) continue;
        pthread_join(t[i], NULL);
        bad += a[i].bad;
    }
    EXPECT_INT(started[0] + started[1] + started[2] + started[3], 4);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_INT(bad, 0);
    intent_free(&in);
    free(json);
}

static const unit_test_t TESTS[] = {
    {"verdicts", test_verdicts},
    {"hash_same_content", test_hash_same_content},
    {"hash_other_content", test_hash_other_content},
    {"hash_source", test_hash_source},
    {"hash_invalid", test_hash_invalid},
    {"nul_byte", test_nul_byte},
    {"threads", test_threads},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
