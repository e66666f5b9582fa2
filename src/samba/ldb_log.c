/* libldb reports through a printf-style callback with a va_list, which stable Rust cannot
 * receive. This shim formats the message and hands the finished string to Rust, so libldb's
 * and the samba modules' messages go to our log instead of straight to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <ldb.h>

void samba_entra_sync_ldb_log(int level, const char *message); /* implemented in ldb.rs */

static void forward(void *context, enum ldb_debug_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	(void)context;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	samba_entra_sync_ldb_log((int)level, buf);
}

int samba_entra_sync_ldb_route_debug(struct ldb_context *ldb)
{
	return ldb_set_debug(ldb, forward, NULL);
}
