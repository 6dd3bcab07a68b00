/* helpers shared by the cmocka suites: bounded waits on the main context
 * and error assertions that print what went wrong */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>

/* run the thread-default context until *res is set; fail the test after
 * @max_ms so a bug cannot hang the suite */
void qt_test_wait(GAsyncResult **res, guint max_ms);
/* run the thread-default context until @cond(@data) holds or @max_ms
 * pass; returns whether it holds */
typedef gboolean (*QtTestCond)(gpointer data);
gboolean qt_test_wait_until(QtTestCond cond, gpointer data, guint max_ms);
/* run the thread-default context for @ms */
void qt_test_run_for(guint ms);

#define assert_error(error, domain, code) qt_test_assert_error((error), (domain), (code))
#define assert_no_error(error)            qt_test_assert_no_error(error)
void qt_test_assert_error(const GError *error, GQuark domain, int code);
void qt_test_assert_no_error(const GError *error);
