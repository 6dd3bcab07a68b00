/* counting QEMU processes, for the checks that nothing is left behind */
#pragma once

#include <glib.h>

/* @func for the pid (a decimal string) of every process in /proc */
void qt_test_foreach_pid(void (*func)(const char *pid, gpointer data), gpointer data);
/* live processes (zombies included) whose argv[0] is a qemu-system-* or
 * the test suite's fake-qemu */
guint qt_test_count_qemu(void);
/* is @pid still a process (zombies included)? */
gboolean qt_test_pid_alive(GPid pid);
/* poll until qt_test_count_qemu() <= @expected or @timeout_ms passes */
guint qt_test_wait_qemu_count(guint expected, guint timeout_ms);
