/* What bindgen sees of libldb, talloc and libsamba-hostconfig (see build.rs). */
#include <stdbool.h>
#include <talloc.h>
#include <ldb.h>

/* From libsamba-hostconfig (samba-dev's param.h drags in half of Samba's headers; this one
 * prototype is all we need). The samba_dsdb module stack aborts unless sam.ldb is opened
 * with a "loadparm" opaque set to this context. */
struct loadparm_context;
struct loadparm_context *loadparm_init_global(bool load_default);

/* src/samba/ldb_log.c: route libldb's debug messages to our log. */
int samba_entra_sync_ldb_route_debug(struct ldb_context *ldb);
