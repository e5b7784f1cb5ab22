/* test_breaker.c - the circuit breaker's state machine (lib/breaker.c),
 * driven by explicit times: closed -> open after threshold failures in the
 * window, refusals while open, the half-open trial, its outcomes, a lost
 * trial, and the breaker turned off. */
#include <criterion/criterion.h>
#include "lib/breaker.h"

static breaker b;

static void make(int enabled, int threshold, int64_t window, int64_t cooldown)
{
    breaker_config c = {enabled, threshold, window, cooldown};
    breaker_init(&b, &c);
}

static breaker_state state(void)
{
    breaker_info i;
    breaker_get(&b, &i);
    return i.state;
}

Test(breaker, opens_after_threshold_failures_in_window)
{
    make(1, 3, 1000, 500);
    cr_assert_eq(breaker_allow(&b, 0, NULL, NULL), BREAKER_CALL);
    cr_assert_eq(breaker_record(&b, 0, 0), -1);
    cr_assert_eq(breaker_record(&b, 100, 0), -1);
    cr_assert_eq(state(), BREAKER_CLOSED);
    cr_assert_eq(breaker_record(&b, 200, 0), BREAKER_OPEN, "the third failure opens it");
    cr_assert_eq(state(), BREAKER_OPEN);
    int64_t retry = -1;
    cr_assert_eq(breaker_allow(&b, 300, &retry, NULL), BREAKER_REFUSE);
    cr_assert_eq(retry, 400, "a trial is due 500 ms after it opened: %lld", (long long)retry);
    breaker_info i;
    breaker_get(&b, &i);
    cr_assert_eq(i.opened, 1);
    breaker_release(&b);
}

Test(breaker, success_restarts_the_count)
{
    make(1, 3, 1000, 500);
    breaker_record(&b, 0, 0);
    breaker_record(&b, 10, 0);
    cr_assert_eq(breaker_record(&b, 20, 1), -1);
    cr_assert_eq(breaker_record(&b, 30, 0), -1);
    cr_assert_eq(breaker_record(&b, 40, 0), -1, "two in a row after a success");
    cr_assert_eq(state(), BREAKER_CLOSED);
    cr_assert_eq(breaker_record(&b, 50, 0), BREAKER_OPEN);
    breaker_release(&b);
}

Test(breaker, failures_outside_the_window_do_not_add_up)
{
    make(1, 3, 1000, 500);
    breaker_record(&b, 0, 0);
    breaker_record(&b, 500, 0);
    cr_assert_eq(breaker_record(&b, 1500, 0), -1, "the run started at 0 is older than the window");
    cr_assert_eq(state(), BREAKER_CLOSED);
    breaker_record(&b, 1600, 0);
    cr_assert_eq(breaker_record(&b, 1700, 0), BREAKER_OPEN, "three within 1000 ms from 1500");
    breaker_release(&b);
}

Test(breaker, trial_success_closes)
{
    make(1, 1, 1000, 500);
    cr_assert_eq(breaker_record(&b, 0, 0), BREAKER_OPEN);
    cr_assert_eq(breaker_allow(&b, 499, NULL, NULL), BREAKER_REFUSE);
    int from = -2;
    cr_assert_eq(breaker_allow(&b, 500, NULL, &from), BREAKER_TRIAL);
    cr_assert_eq(from, BREAKER_OPEN);
    cr_assert_eq(state(), BREAKER_HALF_OPEN);
    cr_assert_eq(breaker_allow(&b, 510, NULL, &from), BREAKER_REFUSE, "one trial at a time");
    cr_assert_eq(from, -1);
    cr_assert_eq(breaker_record(&b, 520, 1), BREAKER_CLOSED);
    cr_assert_eq(breaker_allow(&b, 530, NULL, NULL), BREAKER_CALL);
    breaker_info i;
    breaker_get(&b, &i);
    cr_assert_eq(i.closed, 1);
    breaker_release(&b);
}

Test(breaker, trial_failure_reopens_for_a_new_cooldown)
{
    make(1, 2, 1000, 500);
    breaker_record(&b, 0, 0);
    breaker_record(&b, 1, 0);
    cr_assert_eq(breaker_allow(&b, 600, NULL, NULL), BREAKER_TRIAL);
    cr_assert_eq(breaker_record(&b, 610, 0), BREAKER_OPEN);
    int64_t retry;
    cr_assert_eq(breaker_allow(&b, 1000, &retry, NULL), BREAKER_REFUSE);
    cr_assert_eq(retry, 110);
    cr_assert_eq(breaker_allow(&b, 1110, NULL, NULL), BREAKER_TRIAL);
    breaker_info i;
    breaker_get(&b, &i);
    cr_assert_eq(i.opened, 2);
    breaker_release(&b);
}

Test(breaker, lost_trial_is_replaced_after_the_cooldown)
{
    make(1, 1, 1000, 500);
    breaker_record(&b, 0, 0);
    cr_assert_eq(breaker_allow(&b, 500, NULL, NULL), BREAKER_TRIAL);
    cr_assert_eq(breaker_allow(&b, 999, NULL, NULL), BREAKER_REFUSE);
    cr_assert_eq(breaker_allow(&b, 1000, NULL, NULL), BREAKER_TRIAL, "the first trial never reported");
    breaker_release(&b);
}

Test(breaker, late_outcomes_while_open_change_nothing)
{
    make(1, 1, 1000, 500);
    breaker_record(&b, 0, 0);
    cr_assert_eq(breaker_record(&b, 10, 1), -1);
    cr_assert_eq(breaker_record(&b, 20, 0), -1);
    cr_assert_eq(state(), BREAKER_OPEN);
    cr_assert_eq(breaker_allow(&b, 400, NULL, NULL), BREAKER_REFUSE, "the cool-down stands");
    breaker_release(&b);
}

Test(breaker, disabled_always_calls)
{
    make(0, 1, 1000, 500);
    for (int t = 0; t < 10; t++) {
        cr_assert_eq(breaker_allow(&b, t, NULL, NULL), BREAKER_CALL);
        cr_assert_eq(breaker_record(&b, t, 0), -1);
    }
    cr_assert_eq(state(), BREAKER_CLOSED);
    cr_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half-open");
    breaker_release(&b);
}
