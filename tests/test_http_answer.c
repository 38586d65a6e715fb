/* owb-device's HTTP client: the answers and URLs it accepts, and the ones
 * it refuses rather than guesses at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_answer.h"

static int parse(const char *text, char *buf, size_t cap, size_t *len)
{
    size_t n = strlen(text);
    assert_true(n < cap);
    memcpy(buf, text, n);
    return owb_http_answer_parse(buf, n, cap, len);
}

static void test_answers(void **state)
{
    (void)state;
    char buf[256];
    size_t len = 99;

    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", buf, sizeof buf, &len),
                     200);
    assert_int_equal(len, 2);
    assert_string_equal(buf, "{}");
    /* No Content-Length (Connection: close): the body is what came. */
    assert_int_equal(parse("HTTP/1.0 409 Conflict\r\n\r\n{\"error\":\"x\"}", buf, sizeof buf, &len),
                     409);
    assert_string_equal(buf, "{\"error\":\"x\"}");
    assert_int_equal(parse("HTTP/1.1 204\r\ncontent-length:0\r\n\r\n", buf, sizeof buf, &len), 204);
    assert_int_equal(len, 0);
}

static void test_refused(void **state)
{
    (void)state;
    char buf[256], small[24];
    size_t len;
    static const char *bad[] = {
        "",
        "HTTP/1.1 200",                                    /* no head end */
        "HTTP/2 200 OK\r\n\r\n{}",                         /* not HTTP/1.x */
        "HTTP/1.1 2000 OK\r\n\r\n{}",                      /* four digits */
        "HTTP/1.1 099 X\r\n\r\n{}",                        /* below 100 */
        "HTTP/1.1 -20 X\r\n\r\n{}",                        /* not digits */
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}",  /* cut short */
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}",  /* more than said */
        "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n{}", /* not a number */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(bad[i], buf, sizeof buf, &len), -1);
    /* An answer that filled the buffer may have been cut: none. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\n{\"a\"", small, sizeof small, &len), -1);
}

static void test_urls(void **state)
{
    (void)state;
    char host[64], port[8];
    const char *path;

    assert_true(owb_http_url_split("http://192.168.50.1:8080/v1/devices/x/checkin", host,
                                   sizeof host, port, sizeof port, &path));
    assert_string_equal(host, "192.168.50.1");
    assert_string_equal(port, "8080");
    assert_string_equal(path, "/v1/devices/x/checkin");
    assert_true(
        owb_http_url_split("http://[fd00::1]/c", host, sizeof host, port, sizeof port, &path));
    assert_string_equal(host, "fd00::1");
    assert_string_equal(port, "80");
    assert_true(
        owb_http_url_split("http://example.org", host, sizeof host, port, sizeof port, &path));
    assert_string_equal(path, "/");
    static const char *bad[] = {
        "https://a/",
        "http://",
        "http://:80/",
        "http://a:/",
        "http://a:0/",
        "http://a:65536/",
        "http://a:8x/",
        "http://[::1/",
        "http://[::1]x/",
        "http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(owb_http_url_split(bad[i], host, sizeof host, port, sizeof port, &path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
