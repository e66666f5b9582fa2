/* Small C helpers around libldb, for the two things stable Rust cannot do safely itself:
 *
 * 1. libldb reports through a printf-style callback with a va_list. The shim formats the
 *    message and hands the finished string to Rust, so libldb's and the samba modules'
 *    messages go to our log instead of straight to stderr.
 * 2. A streaming search: libldb calls back once per entry, and the entry is freed right after
 *    Rust has copied what it needs. ldb_search() instead keeps every result (with all of its
 *    internal attributes) in memory until the search ends: about 37 KB per user, 370 MB for a
 *    10,000-user domain. The callback reads struct ldb_request/ldb_reply fields, whose layout
 *    the C compiler knows for certain.
 */
#include <stdarg.h>
#include <stdio.h>
#include <talloc.h>
#include <ldb.h>

#include "wrapper.h"

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

struct entry_sink {
	samba_entra_sync_entry_fn fn;
	void *ctx;
};

static int on_reply(struct ldb_request *req, struct ldb_reply *ares)
{
	struct entry_sink *sink = req->context;
	int ret;

	if (ares == NULL) {
		return ldb_request_done(req, LDB_ERR_OPERATIONS_ERROR);
	}
	if (ares->error != LDB_SUCCESS) {
		ret = ares->error;
		talloc_free(ares);
		return ldb_request_done(req, ret);
	}
	switch (ares->type) {
	case LDB_REPLY_ENTRY:
		ret = sink->fn(sink->ctx, ares->message);
		talloc_free(ares);
		if (ret != 0) {
			return ldb_request_done(req, LDB_ERR_OPERATIONS_ERROR);
		}
		return LDB_SUCCESS;
	case LDB_REPLY_DONE:
		talloc_free(ares);
		return ldb_request_done(req, LDB_SUCCESS);
	default: /* referrals to other partitions: not ours to follow */
		talloc_free(ares);
		return LDB_SUCCESS;
	}
}

int samba_entra_sync_ldb_search_each(struct ldb_context *ldb, void *mem_ctx, struct ldb_dn *base,
				     enum ldb_scope scope, const char *expression, const char *const *attrs,
				     samba_entra_sync_entry_fn fn, void *ctx)
{
	struct entry_sink sink = { fn, ctx };
	struct ldb_request *req = NULL;
	int ret;

	ret = ldb_build_search_req(&req, ldb, mem_ctx, base, scope, expression, attrs, NULL, &sink, on_reply,
				   NULL);
	if (ret != LDB_SUCCESS) {
		return ret;
	}
	ret = ldb_request(ldb, req);
	if (ret == LDB_SUCCESS) {
		ret = ldb_wait(req->handle, LDB_WAIT_ALL);
	}
	talloc_free(req);
	return ret;
}
