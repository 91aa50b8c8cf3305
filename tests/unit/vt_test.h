/* Shared harness for visft's Check unit tests.
 *
 * A test file defines its START_TEST cases and ends with
 *     VT_TEST_MAIN("suite name", test_a, test_b, ...)
 * which builds one suite with one TCase per test (named after the function) and runs it. */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>


static inline int vt_test_run(const char *suite_name, const TTest *const *tests, size_t n) {
    Suite *s = suite_create(suite_name);
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(tests[i]->name);
        tcase_set_timeout(tc, 600);
        _tcase_add_test(tc, tests[i], 0, 0, 0, 1);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define VT_TEST_MAIN(suite_name, ...)                                                  \
    int main(void) {                                                                   \
        const TTest *const tests[] = {__VA_ARGS__};                                    \
        return vt_test_run(suite_name, tests, sizeof tests / sizeof tests[0]);         \
    }

#endif
