/* test_pattern.c - unit tests of bus/pattern: EventBridge pattern matching.
 *
 * Table-driven: each match case is {name, pattern, event, expected}; each
 * invalid case is {pattern, fragment the error message must contain}.  Many
 * cases come from the EventBridge user guide and the aws/event-ruler README.
 * JSON is written bare inside J(...), which stringifies it.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/pattern.h"
#include "lib/limits.h"
#include "lib/err.h"

#define J(...) #__VA_ARGS__
#define N(a)   (sizeof(a) / sizeof((a)[0]))

struct mcase {
    const char *name;
    const char *pattern;
    const char *event;
    int expect;
};

static void run_cases(const struct mcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct mcase *c = &cases[i];
        char err[512] = "";
        pattern *p = NULL;
        json_error_t je;

        int rc = pattern_compile_str(c->pattern, strlen(c->pattern), &p, err, sizeof err);
        cr_expect_eq(rc, 0, "[%s] compile failed (%d): %s\n  pattern: %s", c->name, rc, err,
                     c->pattern);
        if (rc) continue;
        json_t *ev = json_loads(c->event, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        cr_assert_not_null(ev, "[%s] test event is not JSON: %s\n  event: %s", c->name, je.text,
                           c->event);
        int got = pattern_match(p, ev);
        cr_expect_eq(got, c->expect, "[%s] expected %s, got %s\n  pattern: %s\n  event:   %s",
                     c->name, c->expect ? "match" : "no match", got ? "match" : "no match",
                     c->pattern, c->event);
        json_decref(ev);
        pattern_free(p);
    }
}

/* The event of the event-ruler README. */
#define EV_RULER                                                                                   \
    J({                                                                                            \
        "version" : "0",                                                                           \
        "id" : "ddddd4-aaaa-7777-4444-345dd43cc333",                                               \
        "detail-type" : "EC2 Instance State-change Notification",                                  \
        "source" : "aws.ec2",                                                                      \
        "account" : "012345679012",                                                                \
        "time" : "2017-10-02T16:24:49Z",                                                           \
        "region" : "us-east-1",                                                                    \
        "resources" : ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],         \
        "detail" : {                                                                               \
            "c-count" : 5,                                                                         \
            "d-count" : 3,                                                                         \
            "x-limit" : 301.8,                                                                     \
            "source-ip" : "10.0.0.33",                                                             \
            "instance-id" : "i-000000aaaaaa00000",                                                 \
            "state" : "running"                                                                    \
        }                                                                                          \
    })

/* The EC2 instance state-change example of the EventBridge user guide. */
#define EV_EC2                                                                                     \
    J({                                                                                            \
        "version" : "0",                                                                           \
        "id" : "6a7e8feb-b491-4cf7-a9f1-bf3703467718",                                             \
        "detail-type" : "EC2 Instance State-change Notification",                                  \
        "source" : "aws.ec2",                                                                      \
        "account" : "111122223333",                                                                \
        "time" : "2017-12-22T18:43:48Z",                                                           \
        "region" : "us-west-1",                                                                    \
        "resources" : ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],         \
        "detail" : {"instance-id" : "i-1234567890abcdef0", "state" : "terminated"}                 \
    })

#define EV_CW                                                                                      \
    J({                                                                                            \
        "source" : "aws.cloudwatch",                                                               \
        "metricName" : "NetworkIn",                                                                \
        "namespace" : "AWS/EC2",                                                                   \
        "metricType" : "MetricType",                                                               \
        "scope" : "Account",                                                                       \
        "metricId" : 1234,                                                                         \
        "detail" : {"source" : "x", "detail-type" : "CloudWatch Alarm State Change"}               \
    })

/* ---- exact values, AND / OR, null and "" ---------------------------------- */

static const struct mcase exact_cases[] = {
    {"ruler simple match", J({
         "detail-type" : ["EC2 Instance State-change Notification"],
         "resources" : ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
         "detail" : {"state" : [ "initializing", "running" ]}
     }),
     EV_RULER, 1},
    {"ruler simple, value not listed", J({"detail" : {"state" : ["initializing"]}}), EV_RULER, 0},
    {"guide ec2 terminated", J({
         "source" : ["aws.ec2"],
         "detail-type" : ["EC2 Instance State-change Notification"],
         "detail" : {"state" : ["terminated"]}
     }),
     EV_EC2, 1},
    {"guide ec2 other state",
     J({"source" : ["aws.ec2"], "detail" : {"state" : [ "running", "pending" ]}}), EV_EC2, 0},
    {"case sensitive", J({"source" : ["AWS.EC2"]}), EV_EC2, 0},
    {"no normalisation of whitespace", J({"detail" : {"instance-id" : [" i-1234567890abcdef0"]}}),
     EV_EC2, 0},
    {"unnamed fields ignored", J({"region" : ["us-west-1"]}), EV_EC2, 1},
    {"AND across fields fails on one", J({"source" : ["aws.ec2"], "region" : ["us-east-1"]}),
     EV_EC2, 0},
    {"missing field", J({"detail" : {"missing" : ["x"]}}), EV_EC2, 0},
    {"missing parent object", J({"nothere" : {"state" : ["terminated"]}}), EV_EC2, 0},
    {"leaf against object value", J({"detail" : ["terminated"]}), EV_EC2, 0},
    {"integer equals integer", J({"detail" : {"c-count" : [5]}}), EV_RULER, 1},
    {"3 matches 3.0", J({"detail" : {"c-count" : [5.0]}}), EV_RULER, 1},
    {"real equals real", J({"detail" : {"x-limit" : [301.8]}}), EV_RULER, 1},
    {"number differs", J({"detail" : {"x-limit" : [301.9]}}), EV_RULER, 0},
    {"string never equals number", J({"detail" : {"c-count" : ["5"]}}), EV_RULER, 0},
    {"number never equals string", J({"account" : [12345679012]}), EV_RULER, 0},
    {"big integer exact", J({"n" : [9007199254740993]}), J({"n" : 9007199254740993}), 1},
    {"big integer beyond double precision", J({"n" : [9007199254740993]}),
     J({"n" : 9007199254740992}), 0},
    {"null matches null", J({"detail" : {"responseElements" : [null]}}),
     J({"detail" : {"responseElements" : null, "eventVersion" : ""}}), 1},
    {"null does not match empty string", J({"detail" : {"eventVersion" : [null]}}),
     J({"detail" : {"responseElements" : null, "eventVersion" : ""}}), 0},
    {"empty string matches empty string", J({"detail" : {"eventVersion" : [""]}}),
     J({"detail" : {"responseElements" : null, "eventVersion" : ""}}), 1},
    {"empty string does not match null", J({"detail" : {"responseElements" : [""]}}),
     J({"detail" : {"responseElements" : null, "eventVersion" : ""}}), 0},
    {"null does not match missing", J({"detail" : {"other" : [null]}}),
     J({"detail" : {"responseElements" : null}}), 0},
    {"true matches true", J({"ok" : [true]}), J({"ok" : true}), 1},
    {"false does not match true", J({"ok" : [false]}), J({"ok" : true}), 0},
    {"string true is not true", J({"ok" : ["true"]}), J({"ok" : true}), 0},
    {"mixed value types in one array", J({"v" : [ "a", 1, null ]}), J({"v" : null}), 1},
    {"mixed values and operators", J({"detail" : {"state" : [ "stopped", {"prefix" : "term"} ]}}),
     EV_EC2, 1},
    {"non-object event", J({"source" : ["aws.ec2"]}), J(["aws.ec2"]), 0},
    {"deep nesting", J({"a" : {"b" : {"c" : {"d" : ["x"]}}}}),
     J({"a" : {"b" : {"c" : {"d" : "x"}}}}), 1},
};

Test(pattern_match, exact)
{
    run_cases(exact_cases, N(exact_cases));
}

/* ---- arrays in events ------------------------------------------------------- */

#define EV_EMPLOYEES                                                                               \
    J({                                                                                            \
        "employees" : [                                                                            \
            {"firstName" : "John", "lastName" : "Doe"},                                            \
            {"firstName" : "Anna", "lastName" : "Smith"},                                          \
            {"firstName" : "Peter", "lastName" : "Jones"}                                          \
        ]                                                                                          \
    })

static const struct mcase array_cases[] = {
    {"guide resources intersect", J({
         "resources" : [
             "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
             "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
             "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"
         ]
     }),
     /* J() must not see this long literal split in two */
     // clang-format off
     J({"resources" : [
         "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
         "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
     ]}),
     // clang-format on
     1},
    {"guide resources disjoint",
     J({"resources" : ["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}),
     J({"resources" : ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}), 0},
    {"number in event array", J({"n" : [3]}), J({"n" : [ 1, 2, 3 ]}), 1},
    {"empty event array", J({"tags" : ["x"]}), J({"tags" : []}), 0},
    {"ruler employees Anna", J({"employees" : {"firstName" : ["Anna"]}}), EV_EMPLOYEES, 1},
    {"same element Anna Smith", J({"employees" : {"firstName" : ["Anna"], "lastName" : ["Smith"]}}),
     EV_EMPLOYEES, 1},
    {"ruler array-consistent Anna Jones",
     J({"employees" : {"firstName" : ["Anna"], "lastName" : ["Jones"]}}), EV_EMPLOYEES, 0},
    {"ruler multi-level arrays",
     J({"employees" : {"firstName" : ["Peter"], "lastName" : ["Jones"]}}), J({
         "employees" : [
             [
                 {"firstName" : "John", "lastName" : "Doe"},
                 {"firstName" : "Anna", "lastName" : "Smith"}
             ],
             [ {"firstName" : "Peter", "lastName" : "Jones"} ]
         ]
     }),
     1},
    {"multi-level arrays across sub-arrays",
     J({"employees" : {"firstName" : ["John"], "lastName" : ["Jones"]}}), J({
         "employees" : [
             [ {"firstName" : "John", "lastName" : "Doe"} ],
             [ {"firstName" : "Peter", "lastName" : "Jones"} ]
         ]
     }),
     0},
    {"items: operators within one element",
     J({"detail" : {"items" : {"sku" : ["B"], "qty" : [ {"numeric" : [ ">", 2 ]} ]}}}),
     J({"detail" : {"items" : [ {"sku" : "A", "qty" : 9}, {"sku" : "B", "qty" : 5} ]}}), 1},
    {"items: operators across elements",
     J({"detail" : {"items" : {"sku" : ["B"], "qty" : [ {"numeric" : [ ">", 6 ]} ]}}}),
     J({"detail" : {"items" : [ {"sku" : "A", "qty" : 9}, {"sku" : "B", "qty" : 5} ]}}), 0},
    {"leaf values of nested array flattened", J({"n" : ["b"]}), J({"n" : [ "a", ["b"] ]}), 1},
    {"leaf against array of objects", J({"items" : ["x"]}), J({"items" : [ {"a" : "x"} ]}), 0},
};

Test(pattern_match, arrays)
{
    run_cases(array_cases, N(array_cases));
}

/* ---- prefix, suffix, equals-ignore-case, wildcard ----------------------------- */

static const struct mcase string_cases[] = {
    {"ruler prefix", J({"time" : [ {"prefix" : "2017-10-02"} ]}), EV_RULER, 1},
    {"prefix mismatch", J({"time" : [ {"prefix" : "2017-10-03"} ]}), EV_RULER, 0},
    {"prefix is case sensitive", J({"region" : [ {"prefix" : "US-"} ]}), EV_RULER, 0},
    {"prefix longer than value", J({"region" : [ {"prefix" : "us-east-1-extra"} ]}), EV_RULER, 0},
    {"prefix only on strings", J({"detail" : {"c-count" : [ {"prefix" : "5"} ]}}), EV_RULER, 0},
    {"prefix ignore case (guide)",
     J({"detail" : {"service" : [ {"prefix" : {"equals-ignore-case" : "EventB"}} ]}}),
     J({"detail" : {"service" : "EVENTbridge"}}), 1},
    {"prefix ignore case mismatch",
     J({"detail" : {"service" : [ {"prefix" : {"equals-ignore-case" : "EventB"}} ]}}),
     J({"detail" : {"service" : "Lambda"}}), 0},
    {"ruler suffix", J({"source" : [ {"suffix" : "ec2"} ]}), EV_RULER, 1},
    {"guide suffix .png", J({"FileName" : [ {"suffix" : ".png"} ]}), J({"FileName" : "cat.png"}),
     1},
    {"suffix is case sensitive", J({"FileName" : [ {"suffix" : ".png"} ]}),
     J({"FileName" : "cat.PNG"}), 0},
    {"suffix ignore case (guide)",
     J({"detail" : {"FileName" : [ {"suffix" : {"equals-ignore-case" : ".png"}} ]}}),
     J({"detail" : {"FileName" : "cat.PnG"}}), 1},
    {"suffix ignore case mismatch",
     J({"detail" : {"FileName" : [ {"suffix" : {"equals-ignore-case" : ".png"}} ]}}),
     J({"detail" : {"FileName" : "cat.jpg"}}), 0},
    {"equals-ignore-case (guide)", J({"Name" : [ {"equals-ignore-case" : "alice"} ]}),
     J({"Name" : "ALICE"}), 1},
    {"equals-ignore-case needs full length", J({"Name" : [ {"equals-ignore-case" : "alice"} ]}),
     J({"Name" : "Alicia"}), 0},
    {"equals-ignore-case only strings", J({"n" : [ {"equals-ignore-case" : "1"} ]}), J({"n" : 1}),
     0},
    {"ruler wildcard", J({"source" : [ {"wildcard" : "Simple*Service"} ]}),
     J({"source" : "SimpleQueueService"}), 1},
    {"wildcard star matches empty", J({"source" : [ {"wildcard" : "Simple*Service"} ]}),
     J({"source" : "SimpleService"}), 1},
    {"wildcard anchored at end", J({"source" : [ {"wildcard" : "Simple*Service"} ]}),
     J({"source" : "SimpleQueueServices"}), 0},
    {"wildcard guide path", J({"FilePath" : [ {"wildcard" : "*/lib/*"} ]}),
     J({"FilePath" : "/usr/lib/libc.so"}), 1},
    {"wildcard guide path mismatch", J({"FilePath" : [ {"wildcard" : "*/lib/*"} ]}),
     J({"FilePath" : "/usr/bin/ls"}), 0},
    {"wildcard arn", J({"resources" : [ {"wildcard" : "arn:aws:ec2:*:instance/*"} ]}), EV_RULER, 1},
    {"wildcard segments in order", J({"s" : [ {"wildcard" : "a*b*c"} ]}), J({"s" : "acb"}), 0},
    {"wildcard overlapping segments", J({"s" : [ {"wildcard" : "*ab*ab"} ]}), J({"s" : "xabab"}),
     1},
    {"wildcard alone matches empty string", J({"s" : [ {"wildcard" : "*"} ]}), J({"s" : ""}), 1},
    {"wildcard only strings", J({"s" : [ {"wildcard" : "*"} ]}), J({"s" : 5}), 0},
    {"wildcard escaped star is literal", J({"s" : [ {"wildcard" : "a\\*b"} ]}), J({"s" : "a*b"}),
     1},
    {"wildcard escaped star is not a wildcard", J({"s" : [ {"wildcard" : "a\\*b"} ]}),
     J({"s" : "axb"}), 0},
    {"wildcard escaped backslash", J({"s" : [ {"wildcard" : "a\\\\*"} ]}), J({"s" : "a\\bc"}), 1},
    {"wildcard no star is exact", J({"s" : [ {"wildcard" : "abc"} ]}), J({"s" : "abcd"}), 0},
};

Test(pattern_match, strings)
{
    run_cases(string_cases, N(string_cases));
}

/* ---- anything-but --------------------------------------------------------------- */

static const struct mcase anything_but_cases[] = {
    {"ruler anything-but string", J({"detail" : {"state" : [ {"anything-but" : "initializing"} ]}}),
     EV_RULER, 1},
    {"anything-but string excluded", J({"detail" : {"state" : [ {"anything-but" : "running"} ]}}),
     EV_RULER, 0},
    {"ruler anything-but number", J({"detail" : {"x-limit" : [ {"anything-but" : 123} ]}}),
     EV_RULER, 1},
    {"anything-but number excluded", J({"detail" : {"x-limit" : [ {"anything-but" : 301.8} ]}}),
     EV_RULER, 0},
    {"ruler anything-but string list",
     J({"detail" : {"state" : [ {"anything-but" : [ "stopped", "overloaded" ]} ]}}), EV_RULER, 1},
    {"anything-but string list excluded",
     J({"detail" : {"state" : [ {"anything-but" : [ "stopped", "running" ]} ]}}), EV_RULER, 0},
    {"ruler anything-but number list",
     J({"detail" : {"x-limit" : [ {"anything-but" : [ 100, 200, 300 ]} ]}}), EV_RULER, 1},
    {"anything-but number list excluded numerically",
     J({"detail" : {"c-count" : [ {"anything-but" : [ 4, 5.0 ]} ]}}), EV_RULER, 0},
    {"ruler anything-but prefix",
     J({"detail" : {"state" : [ {"anything-but" : {"prefix" : "init"}} ]}}), EV_RULER, 1},
    {"anything-but prefix excluded",
     J({"detail" : {"state" : [ {"anything-but" : {"prefix" : "init"}} ]}}),
     J({"detail" : {"state" : "initializing"}}), 0},
    {"anything-but suffix (guide)", J({"FileName" : [ {"anything-but" : {"suffix" : ".png"}} ]}),
     J({"FileName" : "a.jpg"}), 1},
    {"anything-but suffix excluded", J({"FileName" : [ {"anything-but" : {"suffix" : ".png"}} ]}),
     J({"FileName" : "a.png"}), 0},
    {"anything-but ignore case (guide)",
     J({"state" : [ {"anything-but" : {"equals-ignore-case" : "initializing"}} ]}),
     J({"state" : "INITIALIZING"}), 0},
    {"anything-but ignore case other",
     J({"state" : [ {"anything-but" : {"equals-ignore-case" : "initializing"}} ]}),
     J({"state" : "Running"}), 1},
    {"anything-but ignore case list",
     J({"state" : [ {"anything-but" : {"equals-ignore-case" : [ "Stopped", "running" ]}} ]}),
     J({"state" : "RUNNING"}), 0},
    {"anything-but wildcard (guide)",
     J({"FilePath" : [ {"anything-but" : {"wildcard" : "*/lib/*"}} ]}),
     J({"FilePath" : "/usr/lib/libc.so"}), 0},
    {"anything-but wildcard other",
     J({"FilePath" : [ {"anything-but" : {"wildcard" : "*/lib/*"}} ]}), J({"FilePath" : "/bin/sh"}),
     1},
    {"anything-but needs the field", J({"detail" : {"nothere" : [ {"anything-but" : "x"} ]}}),
     EV_RULER, 0},
    {"anything-but other type matches", J({"v" : [ {"anything-but" : 123} ]}), J({"v" : "abc"}), 1},
    {"anything-but on null value", J({"v" : [ {"anything-but" : "x"} ]}), J({"v" : null}), 1},
    {"anything-but array: one element not excluded", J({"v" : [ {"anything-but" : "a"} ]}),
     J({"v" : [ "a", "b" ]}), 1},
    {"anything-but array: all excluded", J({"v" : [ {"anything-but" : [ "a", "b" ]} ]}),
     J({"v" : [ "a", "b" ]}), 0},
    {"anything-but OR exact", J({"v" : [ {"anything-but" : "a"}, "a" ]}), J({"v" : "a"}), 1},
};

Test(pattern_match, anything_but)
{
    run_cases(anything_but_cases, N(anything_but_cases));
}

/* ---- numeric ------------------------------------------------------------------ */

static const struct mcase numeric_cases[] = {
    {"ruler numeric example", J({
         "detail" : {
             "c-count" : [ {"numeric" : [ ">", 0, "<=", 5 ]} ],
             "d-count" : [ {"numeric" : [ "<", 10 ]} ],
             "x-limit" : [ {"numeric" : [ "=", 3.018e2 ]} ]
         }
     }),
     EV_RULER, 1},
    {"numeric > open bound", J({"detail" : {"c-count" : [ {"numeric" : [ ">", 5 ]} ]}}), EV_RULER,
     0},
    {"numeric >= closed bound", J({"detail" : {"c-count" : [ {"numeric" : [ ">=", 5 ]} ]}}),
     EV_RULER, 1},
    {"numeric < open bound", J({"detail" : {"d-count" : [ {"numeric" : [ "<", 3 ]} ]}}), EV_RULER,
     0},
    {"numeric <= closed bound", J({"detail" : {"d-count" : [ {"numeric" : [ "<=", 3 ]} ]}}),
     EV_RULER, 1},
    {"numeric = differs", J({"detail" : {"x-limit" : [ {"numeric" : [ "=", 301 ]} ]}}), EV_RULER,
     0},
    {"numeric range above", J({"detail" : {"x-limit" : [ {"numeric" : [ ">", 0, "<", 300 ]} ]}}),
     EV_RULER, 0},
    {"numeric upper bound first",
     J({"detail" : {"c-count" : [ {"numeric" : [ "<=", 5, ">", 0 ]} ]}}), EV_RULER, 1},
    {"numeric negative range", J({"t" : [ {"numeric" : [ ">=", -10, "<", 0 ]} ]}), J({"t" : -0.5}),
     1},
    {"numeric only numbers", J({"n" : [ {"numeric" : [ ">", 0 ]} ]}), J({"n" : "5"}), 0},
    {"numeric in event array", J({"n" : [ {"numeric" : [ ">", 10 ]} ]}), J({"n" : [ 1, 20 ]}), 1},
    {"numeric event beyond 5e9", J({"n" : [ {"numeric" : [ ">", 0 ]} ]}), J({"n" : 6e9}), 0},
    {"numeric at 5e9", J({"n" : [ {"numeric" : [ ">", 0 ]} ]}), J({"n" : 5e9}), 1},
    {"numeric six decimals", J({"n" : [ {"numeric" : [ "=", 3 ]} ]}), J({"n" : 3.0000001}), 1},
    {"exact number compares at six decimals", J({"n" : [3]}), J({"n" : 3.0000001}), 1},
    {"exact number differs at six decimals", J({"n" : [3]}), J({"n" : 3.000001}), 0},
    {"numeric or exact", J({"n" : [ {"numeric" : [ "<", 0 ]}, 7 ]}), J({"n" : 7}), 1},
};

Test(pattern_match, numeric)
{
    run_cases(numeric_cases, N(numeric_cases));
}

/* ---- exists --------------------------------------------------------------------- */

static const struct mcase exists_cases[] = {
    {"ruler exists true", J({"detail" : {"c-count" : [ {"exists" : true} ]}}), EV_RULER, 1},
    {"exists false on present", J({"detail" : {"c-count" : [ {"exists" : false} ]}}), EV_RULER, 0},
    {"exists true on missing", J({"detail" : {"nothere" : [ {"exists" : true} ]}}), EV_RULER, 0},
    {"ruler exists false on missing", J({"detail" : {"c-count" : [ {"exists" : false} ]}}), J({
         "detail-type" : "EC2 Instance State-change Notification",
         "detail" : {"state" : [ "initializing", "running" ]}
     }),
     1},
    {"ruler exists false on object (not a leaf)",
     J({"detail" : {"c-count" : [ {"exists" : false} ]}}),
     J({"detail" : {"state" : "running", "c-count" : {"c1" : 100}}}), 1},
    {"exists true on object (not a leaf)", J({"detail" : {"c-count" : [ {"exists" : true} ]}}),
     J({"detail" : {"c-count" : {"c1" : 100}}}), 0},
    {"exists true on null", J({"v" : [ {"exists" : true} ]}), J({"v" : null}), 1},
    {"exists true on empty array", J({"v" : [ {"exists" : true} ]}), J({"v" : []}), 0},
    {"exists false on empty array", J({"v" : [ {"exists" : false} ]}), J({"v" : []}), 1},
    {"exists false, parent missing", J({"detail" : {"c-count" : [ {"exists" : false} ]}}),
     J({"source" : "x"}), 1},
    {"exists false, parent is a string", J({"detail" : {"c-count" : [ {"exists" : false} ]}}),
     J({"detail" : "x"}), 1},
    {"exists false OR value", J({"v" : [ "x", {"exists" : false} ]}), J({"v" : "y"}), 0},
    {"exists false per array element", J({"items" : {"sku" : [ {"exists" : false} ]}}),
     J({"items" : [ {"sku" : "A"}, {"qty" : 2} ]}), 1},
    {"exists false, every element has it", J({"items" : {"sku" : [ {"exists" : false} ]}}),
     J({"items" : [ {"sku" : "A"}, {"sku" : "B"} ]}), 0},
    {"exists false on non-object event", J({"a" : [ {"exists" : false} ]}), J([1]), 1},
};

Test(pattern_match, exists)
{
    run_cases(exists_cases, N(exists_cases));
}

/* ---- cidr ------------------------------------------------------------------------- */

static const struct mcase cidr_cases[] = {
    {"ruler cidr /24", J({"detail" : {"source-ip" : [ {"cidr" : "10.0.0.0/24"} ]}}), EV_RULER, 1},
    {"ruler cidr /8", J({"detail" : {"source-ip" : [ {"cidr" : "10.0.0.0/8"} ]}}), EV_RULER, 1},
    {"cidr other network", J({"detail" : {"source-ip" : [ {"cidr" : "10.0.1.0/24"} ]}}), EV_RULER,
     0},
    {"cidr /32 host", J({"ip" : [ {"cidr" : "10.0.0.33/32"} ]}), J({"ip" : "10.0.0.33"}), 1},
    {"cidr /32 other host", J({"ip" : [ {"cidr" : "10.0.0.33/32"} ]}), J({"ip" : "10.0.0.34"}), 0},
    {"cidr host bits masked", J({"ip" : [ {"cidr" : "192.168.1.77/16"} ]}),
     J({"ip" : "192.168.200.1"}), 1},
    {"cidr ipv6", J({"ip" : [ {"cidr" : "2001:db8::/32"} ]}), J({"ip" : "2001:db8:0:1::5"}), 1},
    {"cidr ipv6 outside", J({"ip" : [ {"cidr" : "2001:db8::/32"} ]}), J({"ip" : "2001:db9::1"}), 0},
    {"cidr ipv4 vs ipv6 block", J({"ip" : [ {"cidr" : "::/0"} ]}), J({"ip" : "10.0.0.1"}), 0},
    {"cidr not an address", J({"ip" : [ {"cidr" : "10.0.0.0/8"} ]}), J({"ip" : "10.0.0.x"}), 0},
    {"cidr number", J({"ip" : [ {"cidr" : "10.0.0.0/8"} ]}), J({"ip" : 10}), 0},
};

Test(pattern_match, cidr)
{
    run_cases(cidr_cases, N(cidr_cases));
}

/* ---- $or ---------------------------------------------------------------------------- */

static const struct mcase or_cases[] = {
    {"ruler normal or", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [
             {"metricName" : [ "CPUUtilization", "ReadLatency" ]},
             {"namespace" : [ "AWS/EC2", "AWS/ES" ]}
         ]
     }),
     EV_CW, 1},
    {"or: no branch matches", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [ {"metricName" : ["CPUUtilization"]}, {"namespace" : ["AWS/ES"]} ]
     }),
     EV_CW, 0},
    {"or: AND with sibling fails", J({
         "source" : ["aws.ec2"],
         "$or" : [ {"metricName" : ["NetworkIn"]}, {"namespace" : ["AWS/EC2"]} ]
     }),
     EV_CW, 0},
    {"ruler parallel or", J({
         "$or" : [
             {"metricName" : [ "CPUUtilization", "ReadLatency" ]},
             {"namespace" : [ "AWS/EC2", "AWS/ES" ]}
         ],
         "detail" : {
             "$or" : [
                 {"source" : ["aws.cloudwatch"]},
                 {"detail-type" : ["CloudWatch Alarm State Change"]}
             ]
         }
     }),
     EV_CW, 1},
    {"ruler or with and inside", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [
             {"metricName" : [ "CPUUtilization", "ReadLatency" ]},
             {"metricType" : ["MetricType"], "namespace" : [ "AWS/EC2", "AWS/ES" ]},
             {"scope" : ["Service"]}
         ]
     }),
     EV_CW, 1},
    {"or: and inside needs both", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [
             {"metricName" : ["CPUUtilization"]},
             {"metricType" : ["Other"], "namespace" : ["AWS/EC2"]}
         ]
     }),
     EV_CW, 0},
    {"ruler nested or", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [
             {"metricName" : [ "CPUUtilization", "ReadLatency" ]}, {
                 "metricType" : ["MetricType"],
                 "namespace" : [ "AWS/EC2", "AWS/ES" ],
                 "$or" : [ {"metricId" : [1234]}, {"spaceId" : [1000]} ]
             },
             {"scope" : ["Service"]}
         ]
     }),
     EV_CW, 1},
    {"nested or: inner fails", J({
         "source" : ["aws.cloudwatch"],
         "$or" : [
             {"metricName" : ["CPUUtilization"]},
             {"namespace" : ["AWS/EC2"], "$or" : [ {"metricId" : [99]}, {"spaceId" : [1000]} ]}
         ]
     }),
     EV_CW, 0},
    {"or under detail with numeric", J({
         "detail" : {
             "$or" : [
                 {"c-count" : [ {"numeric" : [ ">", 10 ]} ]},
                 {"d-count" : [ {"numeric" : [ "<", 10 ]} ]}
             ]
         }
     }),
     EV_RULER, 1},
    {"or with exists false branch", J({"$or" : [ {"a" : ["x"]}, {"b" : [ {"exists" : false} ]} ]}),
     J({"a" : "y"}), 1},
    {"$or object is a plain field",
     J({"source" : ["aws.cloudwatch"], "$or" : {"metricType" : ["MetricType"]}}),
     J({"source" : "aws.cloudwatch", "$or" : {"metricType" : "MetricType"}}), 1},
    {"$or plain field missing", J({"$or" : {"metricType" : ["MetricType"]}}), EV_CW, 0},
    {"$or leaf of values is a plain field", J({"$or" : [ "a", "b" ]}), J({"$or" : "b"}), 1},
};

Test(pattern_match, or)
{
    run_cases(or_cases, N(or_cases));
}

/* ---- invalid patterns ------------------------------------------------------------------ */

struct bad {
    const char *pattern;
    const char *needle; /* must occur in the error message */
};

static const struct bad bad_cases[] = {
    {J([]), "(root): pattern must be a JSON object"},
    {J("x"), "(root): pattern must be a JSON object"},
    {J({}), "(root): empty object"},
    {J({"source" : "aws.ec2"}), "source: expected an array of values or a nested object"},
    {J({"source" : 5}), "source: expected an array"},
    {J({"source" : []}), "source: empty array"},
    {J({"detail" : {}}), "detail: empty object"},
    {J({"detail" : {"state" : [["a"]]}}), "detail.state[0]: expected a string, number"},
    {J({"detail" : {"amount" : [ {"numeric" : [ ">", "0" ]} ]}}),
     "detail.amount[0]: numeric: expected a number after \">\""},
    {J({"detail" : {"amount" : [ 1, {"numeric" : [ "!=", 1 ]} ]}}),
     "detail.amount[1]: numeric: unknown operator \"!=\""},
    {J({"a" : [ {"numeric" : []} ]}), "a[0]: numeric: empty array"},
    {J({"a" : [ {"numeric" : 5} ]}), "a[0]: numeric: expected an array"},
    {J({"a" : [ {"numeric" : [ 5, ">" ]} ]}), "a[0]: numeric: expected an operator"},
    {J({"a" : [ {"numeric" : [">"]} ]}), "a[0]: numeric: expected a number after \">\""},
    {J({"a" : [ {"numeric" : [ ">", 0, ">=", 1 ]} ]}), "a[0]: numeric: more than one lower bound"},
    {J({"a" : [ {"numeric" : [ "<", 0, "<=", 1 ]} ]}), "a[0]: numeric: more than one upper bound"},
    {J({"a" : [ {"numeric" : [ ">", 5, "<", 1 ]} ]}), "a[0]: numeric: lower bound 5 must be less"},
    {J({"a" : [ {"numeric" : [ ">=", 5, "<=", 5 ]} ]}), "a[0]: numeric: lower bound"},
    {J({"a" : [ {"numeric" : [ ">", 6e9 ]} ]}), "a[0]: numeric: 6e+09 is outside"},
    {J({"a" : [ {"numeric" : [ "=", 1, "<", 2 ]} ]}), "a[0]: numeric: \"=\" cannot be combined"},
    {J({"a" : [ {"contains" : "x"} ]}), "a[0]: unknown operator \"contains\""},
    {J({"a" : [ {"prefix" : "a", "suffix" : "b"} ]}),
     "a[0]: an operator object must have exactly one key"},
    {J({"a" : [ {} ]}), "a[0]: an operator object must have exactly one key, got 0"},
    {J({"a" : [ {"prefix" : 5} ]}), "a[0]: prefix: expected a string"},
    {J({"a" : [ {"prefix" : {"equals-ignore-case" : 5}} ]}), "a[0]: prefix: expected a string"},
    {J({"a" : [ {"suffix" : {"wildcard" : "x"}} ]}), "a[0]: suffix: expected a string"},
    {J({"a" : [ {"equals-ignore-case" : ["x"]} ]}), "a[0]: equals-ignore-case: expected a string"},
    {J({"a" : [ {"wildcard" : "a**b"} ]}), "a[0]: wildcard: consecutive '*' at offset 2"},
    {J({"a" : [ {"wildcard" : "a\\xb"} ]}), "a[0]: wildcard: invalid escape \"\\x\""},
    {J({"a" : [ {"wildcard" : "ab\\"} ]}), "a[0]: wildcard: trailing backslash"},
    {J({"a" : [ {"wildcard" : 1} ]}), "a[0]: wildcard: expected a string"},
    {J({"a" : [ {"anything-but" : [ "a", 1 ]} ]}),
     "a[0]: anything-but: list mixes strings and numbers"},
    {J({"a" : [ {"anything-but" : [null]} ]}),
     "a[0]: anything-but: list values must be strings or numbers"},
    {J({"a" : [ {"anything-but" : []} ]}), "a[0]: anything-but: empty list"},
    {J({"a" : [ {"anything-but" : true} ]}), "a[0]: anything-but: expected a string, a number"},
    {J({"a" : [ {"anything-but" : {"prefix" : ""}} ]}),
     "a[0]: anything-but: prefix must not be empty"},
    {J({"a" : [ {"anything-but" : {"prefix" : 1}} ]}),
     "a[0]: anything-but: prefix: expected a string"},
    {J({"a" : [ {"anything-but" : {"numeric" : [ ">", 1 ]}} ]}),
     "a[0]: anything-but: unsupported operator \"numeric\""},
    {J({"a" : [ {"anything-but" : {"wildcard" : "x**"}} ]}),
     "a[0]: anything-but: wildcard: consecutive '*'"},
    {J({"a" : [ {"anything-but" : {"equals-ignore-case" : [ "x", 2 ]}} ]}),
     "a[0]: anything-but: equals-ignore-case: expected a string or a list of strings"},
    {J({"a" : [ {"anything-but" : {"equals-ignore-case" : []}} ]}),
     "a[0]: anything-but: equals-ignore-case: empty list"},
    {J({"a" : [ {"exists" : "yes"} ]}), "a[0]: exists: expected true or false"},
    {J({"a" : [ {"cidr" : "10.0.0.0"} ]}), "a[0]: cidr: expected \"address/bits\""},
    {J({"a" : [ {"cidr" : "10.0.0.0/33"} ]}), "a[0]: cidr: mask bits must be 0..32 for IPv4"},
    {J({"a" : [ {"cidr" : "::/129"} ]}), "a[0]: cidr: mask bits must be 0..128 for IPv6"},
    {J({"a" : [ {"cidr" : "300.0.0.0/8"} ]}), "a[0]: cidr: invalid IP address"},
    {J({"a" : [ {"cidr" : "10.0.0.0/x"} ]}), "a[0]: cidr: mask bits must be a decimal number"},
    {J({"a" : [ {"cidr" : 10} ]}), "a[0]: cidr: expected a string"},
    {J({"detail" : {"items" : {"sku" : [ {"wildcard" : "**"} ]}}}),
     "detail.items.sku[0]: wildcard: consecutive"},
    {J({"$or" : [ {"a" : ["x"]} ]}), "$or[0]: unknown operator \"a\""},
    {J({"detail" : {"$or" : [ {"a" : "x"}, {"b" : ["y"]} ]}}),
     "detail.$or[0].a: expected an array"},
    {J({"$or" : [ {"a" : ["x"]}, {"b" : {"c" : [ {"prefix" : 1} ]}} ]}),
     "$or[1].b.c[0]: prefix: expected a string"},
    /* reserved keys: not an $or, so a leaf of operators, and {"numeric": 123} is invalid */
    {J({"$or" : [ {"numeric" : 123}, {"prefix" : "abc"} ]}), "$or[0]: numeric: expected an array"},
};

Test(pattern_compile, invalid_patterns)
{
    for (size_t i = 0; i < N(bad_cases); i++) {
        const struct bad *b = &bad_cases[i];
        char err[512] = "";
        pattern *p = (pattern *)0x1;
        int rc = pattern_compile_str(b->pattern, strlen(b->pattern), &p, err, sizeof err);
        cr_expect_eq(rc, ORD_EVALIDATION, "pattern %s: expected ORD_EVALIDATION, got %d (%s)",
                     b->pattern, rc, err);
        cr_expect_null(p, "pattern %s: *out must be NULL on failure", b->pattern);
        cr_expect(strstr(err, b->needle) != NULL,
                  "pattern %s:\n  expected error containing: %s\n  got:                       %s",
                  b->pattern, b->needle, err);
        pattern_free(p == (pattern *)0x1 ? NULL : p);
    }
}

/* ---- limits, JSON errors, API edges ---------------------------------------------------- */

/* {"a":{"a":...{"a":["x"]}...}} with depth objects. */
static char *nested_pattern(int depth)
{
    size_t cap = (size_t)depth * 8 + 16, n = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    for (int i = 0; i < depth - 1; i++)
        n += (size_t)sprintf(s + n, "{\"a\":");
    n += (size_t)sprintf(s + n, "{\"a\":[\"x\"]}");
    for (int i = 0; i < depth - 1; i++)
        s[n++] = '}';
    s[n] = '\0';
    return s;
}

Test(pattern_compile, depth_limit)
{
    char err[256] = "";
    pattern *p = NULL;
    char *ok = nested_pattern(LIMIT_PATTERN_DEPTH_MAX);
    char *deep = nested_pattern(LIMIT_PATTERN_DEPTH_MAX + 1);

    int rc = pattern_compile_str(ok, strlen(ok), &p, err, sizeof err);
    cr_expect_eq(rc, 0, "depth %d must compile: %s", LIMIT_PATTERN_DEPTH_MAX, err);
    pattern_free(p);
    p = NULL;
    rc = pattern_compile_str(deep, strlen(deep), &p, err, sizeof err);
    cr_expect_eq(rc, ORD_EVALIDATION, "depth %d must fail, got %d", LIMIT_PATTERN_DEPTH_MAX + 1,
                 rc);
    cr_expect(strstr(err, "nests deeper than") && strstr(err, "a.a.a."),
              "error should name the nesting and the path, got: %s", err);
    free(ok);
    free(deep);
}

Test(pattern_compile, size_limit)
{
    char err[256] = "";
    pattern *p = NULL;
    size_t vlen = LIMIT_PATTERN_BYTES_MAX; /* one value that alone exceeds the limit */
    char *text = malloc(vlen + 32);
    cr_assert_not_null(text);
    int n = sprintf(text, "{\"a\":[\"");
    memset(text + n, 'x', vlen);
    strcpy(text + n + vlen, "\"]}");

    int rc = pattern_compile_str(text, strlen(text), &p, err, sizeof err);
    cr_expect_eq(rc, ORD_EVALIDATION, "text of %zu bytes must fail, got %d", strlen(text), rc);
    cr_expect(strstr(err, "more than 4096") != NULL, "got: %s", err);

    json_t *j = json_loads(text, 0, NULL);
    cr_assert_not_null(j);
    rc = pattern_compile(j, &p, err, sizeof err);
    cr_expect_eq(rc, ORD_EVALIDATION, "json_t of %zu bytes must fail, got %d", strlen(text), rc);
    cr_expect(strstr(err, "(root): pattern is") && strstr(err, "more than 4096"), "got: %s", err);
    cr_expect_null(p);
    json_decref(j);

    /* Exactly at the limit is accepted. */
    size_t at = LIMIT_PATTERN_BYTES_MAX - strlen("{\"a\":[\"\"]}");
    n = sprintf(text, "{\"a\":[\"");
    memset(text + n, 'y', at);
    strcpy(text + n + at, "\"]}");
    cr_assert_eq(strlen(text), LIMIT_PATTERN_BYTES_MAX);
    rc = pattern_compile_str(text, strlen(text), &p, err, sizeof err);
    cr_expect_eq(rc, 0, "text of exactly %d bytes must compile: %s", LIMIT_PATTERN_BYTES_MAX, err);
    pattern_free(p);
    free(text);
}

Test(pattern_compile, malformed_json)
{
    char err[256] = "";
    pattern *p = NULL;
    const char *bad = "{\"a\": [1,}";
    int rc = pattern_compile_str(bad, strlen(bad), &p, err, sizeof err);
    cr_expect_eq(rc, ORD_EJSON, "malformed JSON: expected ORD_EJSON, got %d (%s)", rc, err);
    cr_expect(strstr(err, "line 1 column") != NULL, "error should give the position, got: %s", err);

    const char *dup = "{\"a\": [\"x\"], \"a\": [\"y\"]}";
    rc = pattern_compile_str(dup, strlen(dup), &p, err, sizeof err);
    cr_expect_eq(rc, ORD_EJSON, "duplicate key: expected ORD_EJSON, got %d (%s)", rc, err);
    cr_expect(strstr(err, "duplicate") != NULL, "got: %s", err);

    /* len bounds the text: no NUL needed, trailing bytes ignored. */
    const char *padded = "{\"a\":[\"x\"]}GARBAGE";
    rc = pattern_compile_str(padded, strlen(padded) - 7, &p, err, sizeof err);
    cr_expect_eq(rc, 0, "prefix of buffer must compile: %s", err);
    pattern_free(p);
}

Test(pattern_compile, api_edges)
{
    pattern *p = NULL;
    char small[12];

    /* err may be NULL. */
    cr_expect_eq(pattern_compile_str("[]", 2, &p, NULL, 0), ORD_EVALIDATION);
    /* A short buffer is truncated and stays terminated. */
    cr_expect_eq(pattern_compile_str("{\"source\":[]}", 13, &p, small, sizeof small),
                 ORD_EVALIDATION);
    cr_expect_eq(strlen(small), sizeof small - 1, "truncated message: \"%s\"", small);
    cr_expect_str_eq(small, "source: emp");
    /* Non-object json_t and NULL. */
    json_t *s = json_string("x");
    char err[128];
    cr_expect_eq(pattern_compile(s, &p, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "got a string") != NULL, "got: %s", err);
    cr_expect_eq(pattern_compile(NULL, &p, err, sizeof err), ORD_EVALIDATION);
    json_decref(s);
    pattern_free(NULL);

    /* The compiled pattern does not keep the JSON. */
    json_t *pat = json_pack("{s:[s]}", "k", "v");
    cr_assert_eq(pattern_compile(pat, &p, err, sizeof err), 0, "%s", err);
    json_decref(pat);
    json_t *ev = json_pack("{s:s}", "k", "v");
    cr_expect_eq(pattern_match(p, ev), 1);
    json_decref(ev);
    pattern_free(p);
}

/* Keys with dots, and keys and values with embedded NUL, match byte for byte. */
Test(pattern_match, unusual_keys)
{
    static const struct mcase cases[] = {
        {"dotted key is one key", J({"a.b" : ["x"]}), J({"a.b" : "x"}), 1},
        {"dotted key is not a path", J({"a.b" : ["x"]}), J({"a" : {"b" : "x"}}), 0},
        {"value with NUL", "{\"a\":[\"x\\u0000y\"]}", "{\"a\":\"x\\u0000y\"}", 1},
        {"value with NUL vs truncated", "{\"a\":[\"x\\u0000y\"]}", "{\"a\":\"x\"}", 0},
    };
    run_cases(cases, N(cases));

    /* jansson cannot parse a NUL in a key, but can build one. */
    char err[128];
    pattern *p = NULL;
    json_t *pat = json_object(), *yes = json_object(), *no = json_object();
    cr_assert(pat && yes && no);
    json_object_setn_new(pat, "a\0b", 3, json_pack("[s]", "x"));
    json_object_setn_new(yes, "a\0b", 3, json_string("x"));
    json_object_set_new(no, "a", json_string("x"));
    cr_assert_eq(pattern_compile(pat, &p, err, sizeof err), 0, "%s", err);
    cr_expect_eq(pattern_match(p, yes), 1, "key \"a\\0b\" should match itself");
    cr_expect_eq(pattern_match(p, no), 0, "key \"a\\0b\" must not match key \"a\"");
    pattern_free(p);
    json_decref(pat);
    json_decref(yes);
    json_decref(no);
}

/* ---- thread safety ---------------------------------------------------------------------- */

struct worker {
    const pattern *p;
    json_t *yes, *no;
    int bad;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 20000; i++)
        if (pattern_match(w->p, w->yes) != 1 || pattern_match(w->p, w->no) != 0) w->bad++;
    return NULL;
}

Test(pattern_match, concurrent_readers)
{
    const char *pat = J({
        "detail" : {
            "state" : [ {"anything-but" : {"prefix" : "init"}} ],
            "c-count" : [ {"numeric" : [ ">", 0, "<=", 5 ]} ],
            "source-ip" : [ {"cidr" : "10.0.0.0/8"} ]
        }
    });
    char err[256];
    pattern *p = NULL;
    cr_assert_eq(pattern_compile_str(pat, strlen(pat), &p, err, sizeof err), 0, "%s", err);
    json_t *yes = json_loads(EV_RULER, 0, NULL);
    json_t *no = json_loads(
        J({"detail" : {"state" : "init", "c-count" : 1, "source-ip" : "10.1.1.1"}}), 0, NULL);
    cr_assert(yes && no);

    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){p, yes, no, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(w[i].bad, 0, "thread %d saw %d wrong results", i, w[i].bad);
    }
    json_decref(yes);
    json_decref(no);
    pattern_free(p);
}

/* pattern_uses_only: which patterns the bus may match on source and
 * detail-type alone. */
Test(pattern_uses_only, top_level_leaves_under_the_keys)
{
    static const char *const keys[] = {"source", "detail-type"};
    static const struct {
        const char *pattern;
        int expect;
    } cases[] = {
        {J({"source" : ["a"]}), 1},
        {J({"source" : ["a"], "detail-type" : [ {"prefix" : "Order"} ]}), 1},
        {J({"$or" : [ {"source" : ["a"]}, {"detail-type" : ["b"]} ]}), 1},
        {J({"source" : ["a"], "$or" : [ {"detail-type" : ["b"]}, {"detail-type" : [ {"exists" : false} ]} ]}), 1},
        {J({"account" : ["1"]}), 0},
        {J({"detail" : {"source" : ["a"]}}), 0},
        {J({"source" : ["a"], "detail" : {"x" : [1]}}), 0},
        {J({"$or" : [ {"source" : ["a"]}, {"detail" : {"x" : [1]}} ]}), 0},
        {J({"source-ip" : ["a"]}), 0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char err[256];
        pattern *p = NULL;
        cr_assert_eq(pattern_compile_str(cases[i].pattern, strlen(cases[i].pattern), &p, err, sizeof err), 0,
                     "%s: %s", cases[i].pattern, err);
        cr_expect_eq(pattern_uses_only(p, keys, N(keys)), cases[i].expect, "%s", cases[i].pattern);
        pattern_free(p);
    }
}
