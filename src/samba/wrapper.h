/* What bindgen sees of libldb, talloc and libsamba-hostconfig (see build.rs), and the
 * prototypes of our C shim (shim.c). */
#ifndef SAMBA_ENTRA_SYNC_WRAPPER_H
#define SAMBA_ENTRA_SYNC_WRAPPER_H
#include <stdbool.h>
#include <talloc.h>
#include <ldb.h>

/* From libsamba-hostconfig (samba-dev's param.h drags in half of Samba's headers; this one
 * prototype is all we need). The samba_dsdb module stack aborts unless sam.ldb is opened
 * with a "loadparm" opaque set to this context. */
struct loadparm_context;
struct loadparm_context *loadparm_init_global(bool load_default);
/* Sets one smb.conf parameter as if given on the command line. The account writer sets "realm":
 * Samba's password_hash module salts a new password's Kerberos keys with it, and without
 * smb.conf loaded it is empty (keys no KDC client could match). */
bool lpcfg_set_cmdline(struct loadparm_context *lp_ctx, const char *pszParmName, const char *pszParmValue);

/* From libsamdb (samba/session.h): the process-wide SYSTEM session. Only the writable
 * connection gets it as its "sessionInfo" opaque: without a session, Samba's acl and samldb
 * modules treat a modify as coming from an anonymous user (and the acl module crashes on the
 * missing token). Reads need none. */
struct auth_session_info;
struct auth_session_info *system_session(struct loadparm_context *lp_ctx);

/* shim.c: route libldb's debug messages to samba_entra_sync_ldb_log (in Rust). */
int samba_entra_sync_ldb_route_debug(struct ldb_context *ldb);
void samba_entra_sync_ldb_log(int level, const char *message);

/* shim.c: streaming search; fn is called once per entry and returns 0 to go on. */
typedef int (*samba_entra_sync_entry_fn)(void *ctx, struct ldb_message *msg);
int samba_entra_sync_ldb_search_each(struct ldb_context *ldb, void *mem_ctx, struct ldb_dn *base,
				     enum ldb_scope scope, const char *expression, const char *const *attrs,
				     samba_entra_sync_entry_fn fn, void *ctx);
#endif
