/* check.h - always-on assertions (redis serverAssert): one condition each,
 * file and line on failure, never compiled out.  For programmer errors and
 * invariants only; operating errors are returned as codes from err.h. */
#ifndef ORDERLY_CHECK_H
#define ORDERLY_CHECK_H

_Noreturn void check_fail(const char *expr, const char *file, int line);

#define CHECK(e) ((e) ? (void)0 : check_fail(#e, __FILE__, __LINE__))

#endif
