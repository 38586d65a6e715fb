/* The rate limiter both programs use (owb/ratelimit.h): the server's
 * large hashed table and the device's small one scanned whole. */
#include "test_support.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "owb/ratelimit.h"

/* So slow a refill that nothing comes back while a test runs. */
#define NO_REFILL 1e-6

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void test_refuses_bad_arguments(void **state)
{
    (void)state;
    assert_null(owb_ratelimit_new(0, 1, 1));
    assert_null(owb_ratelimit_new(4, 0, 1));
    assert_null(owb_ratelimit_new(4, -1, 1));
    owb_ratelimit_free(NULL);
}

/* A burst is let through, then refused with the wait for one token. */
static void test_burst_then_refused(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(4096, 0.5, 3);
    double wait = -1;

    assert_non_null(rl);
    for (int i = 0; i < 3; i++) {
        assert_true(owb_ratelimit_allow(rl, "10.0.0.1", &wait));
        assert_true(wait == 0);
    }
    assert_false(owb_ratelimit_allow(rl, "10.0.0.1", &wait));
    assert_true(wait > 1.9 && wait <= 2.0);
    assert_int_equal(owb_ratelimit_retry_secs(wait), 2);
    /* Another key has its own bucket. */
    assert_true(owb_ratelimit_allow(rl, "10.0.0.2", &wait));
    owb_ratelimit_free(rl);
}

/* A burst below 1 still lets one request through. */
static void test_burst_at_least_one(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(8, NO_REFILL, 0);
    double wait;

    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_false(owb_ratelimit_allow(rl, "a", &wait));
    owb_ratelimit_free(rl);
}

/* peek takes no token, and says what allow would. */
static void test_peek_takes_nothing(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(64, NO_REFILL, 2);
    double wait = -1;

    assert_true(owb_ratelimit_peek(rl, "a", &wait));
    assert_true(wait == 0);
    for (int i = 0; i < 10; i++)
        assert_true(owb_ratelimit_peek(rl, "a", &wait));
    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_true(owb_ratelimit_peek(rl, "a", &wait));
    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_false(owb_ratelimit_peek(rl, "a", &wait));
    assert_true(wait > 1e5);
    assert_false(owb_ratelimit_allow(rl, "a", &wait));
    owb_ratelimit_free(rl);
}

/* Tokens come back at the rate, never above the burst. */
static void test_refill(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(16, 10, 2);
    double wait;

    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_false(owb_ratelimit_allow(rl, "a", &wait));
    assert_true(wait <= 0.1);
    sleep_ms(500); /* five tokens' worth: the bucket holds two */
    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_true(owb_ratelimit_allow(rl, "a", &wait));
    assert_false(owb_ratelimit_allow(rl, "a", &wait));
    owb_ratelimit_free(rl);
}

/* The device's size: a small table is searched whole, so as many keys as
 * slots are all remembered; one more forgets the stalest (which starts
 * again with a full bucket), and no other. */
static void test_small_table_forgets_stalest(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(4, NO_REFILL, 1);
    char key[16];
    double wait;

    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(owb_ratelimit_allow(rl, key, &wait));
        sleep_ms(2);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_false(owb_ratelimit_peek(rl, key, &wait));
    }
    assert_true(owb_ratelimit_allow(rl, "k4", &wait));
    assert_true(owb_ratelimit_peek(rl, "k0", &wait)); /* forgotten */
    assert_false(owb_ratelimit_peek(rl, "k1", &wait));
    assert_false(owb_ratelimit_peek(rl, "k3", &wait));
    assert_false(owb_ratelimit_peek(rl, "k4", &wait));
    owb_ratelimit_free(rl);
}

/* The server's size: a flood of keys is held without failing, and a key
 * seen recently is still limited after it. */
static void test_large_table_under_flood(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(4096, NO_REFILL, 1);
    char key[32];
    double wait;
    int limited = 0;

    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "192.0.2.%d:%d", i % 256, i);
        assert_true(owb_ratelimit_allow(rl, key, &wait));
    }
    assert_true(owb_ratelimit_allow(rl, "198.51.100.7", &wait));
    assert_false(owb_ratelimit_allow(rl, "198.51.100.7", &wait));
    /* Of the last keys, most are still remembered. */
    for (int i = 20000 - 100; i < 20000; i++) {
        snprintf(key, sizeof key, "192.0.2.%d:%d", i % 256, i);
        limited += !owb_ratelimit_peek(rl, key, &wait);
    }
    assert_true(limited >= 90);
    owb_ratelimit_free(rl);
}

/* A key longer than the table keeps is cut, and still finds its bucket. */
static void test_long_keys(void **state)
{
    (void)state;
    struct owb_ratelimit *rl = owb_ratelimit_new(64, NO_REFILL, 1);
    char a[OWB_RATELIMIT_KEY_MAX + 10], b[sizeof a];
    double wait;

    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof a);
    b[sizeof b - 2] = 'y'; /* differs past the kept prefix */
    assert_true(owb_ratelimit_allow(rl, a, &wait));
    assert_false(owb_ratelimit_allow(rl, a, &wait));
    assert_false(owb_ratelimit_allow(rl, b, &wait));
    owb_ratelimit_free(rl);
}

static void test_retry_secs(void **state)
{
    (void)state;
    assert_int_equal(owb_ratelimit_retry_secs(0), 1);
    assert_int_equal(owb_ratelimit_retry_secs(0.0004), 1);
    assert_int_equal(owb_ratelimit_retry_secs(1.0), 1);
    assert_int_equal(owb_ratelimit_retry_secs(1.2), 2);
    assert_int_equal(owb_ratelimit_retry_secs(59.5), 60);
    assert_int_equal(owb_ratelimit_retry_secs(1e300), UINT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_bad_arguments),
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_burst_at_least_one),
        cmocka_unit_test(test_peek_takes_nothing),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_small_table_forgets_stalest),
        cmocka_unit_test(test_large_table_under_flood),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_retry_secs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
