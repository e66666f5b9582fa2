//! A safe wrapper around one libldb connection to sam.ldb, and the thread that owns it.
//!
//! libldb, talloc and the samba_dsdb module stack are not thread-safe, so exactly one OS thread
//! owns a connection ([`LdbHandle::open`] starts it). Everyone else sends that thread closures
//! through [`LdbHandle::call`] and awaits the answer. This file is the only place in the
//! project with `unsafe`.
//!
//! The daemon's connection is read-only. The one write it ever makes (the optional write-back
//! of mS-DS-ConsistencyGuid) goes through a separate [`LdbWriter`], opened on the same thread
//! only when that write-back is enabled: libldb shares one tdb handle per file between the
//! connections of a process, so both must be used from one thread. The `seamless-sso` command
//! (never the daemon) writes its computer account through an [`AccountWriter`], likewise on the
//! thread of its reader.

use std::ffi::{CStr, CString, c_char, c_void};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::ptr;

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use super::ffi;

/// Attributes whose values are password material: wiped in libldb's result memory before it is
/// freed, and kept in zeroizing buffers on our side.
const SECRET_ATTRIBUTES: &[&str] =
    &["unicodePwd", "dBCSPwd", "ntPwdHistory", "lmPwdHistory", "supplementalCredentials"];

/// Everything that can go wrong with sam.ldb. Each variant renders as one sentence that says
/// what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LdbError {
    #[error("{path} does not exist: give the path of the DC's sam.ldb (usually /var/lib/samba/private/sam.ldb)")]
    NotFound { path: PathBuf },
    #[error("cannot open {path} ({reason}): sam.ldb is readable only by root, so run this as root")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is not a Samba sam.ldb ({reason})")]
    NotSamLdb { path: PathBuf, reason: String },
    #[error(
        "{path} stores encrypted secrets but {key} is missing, so no password hash can be read: restore encrypted_secrets.key next to sam.ldb"
    )]
    MissingSecretsKey { path: PathBuf, key: PathBuf },
    #[error("libldb could not open {path}: {message}")]
    Connect { path: PathBuf, message: String },
    #[error("search of sam.ldb failed ({code}): {message}")]
    Search { code: i32, message: String },
    #[error("invalid search input: {0}")]
    InvalidInput(String),
    #[error("writing {dn} in sam.ldb failed ({code}): {message}")]
    Write { dn: String, code: i32, message: String },
    #[error("refusing to write mS-DS-ConsistencyGuid of {dn}: {reason}")]
    WriteRefused { dn: String, reason: String },
    #[error("the sam.ldb reader thread has stopped")]
    ThreadGone,
    #[error("the sam.ldb reader thread panicked while serving a request")]
    Panicked,
}

/// A search result: its DN and its attributes' values (AD attribute names are
/// case-insensitive). All values live in one zeroizing buffer: three allocations per entry
/// instead of one per value, and secret attributes never linger in freed memory on our side.
#[derive(Default)]
pub struct Entry {
    pub dn: String,
    /// (lower-cased attribute name, start, end) of each value in `data`, in libldb's order.
    spans: Vec<(Box<str>, u32, u32)>,
    data: Zeroizing<Vec<u8>>,
}

impl Entry {
    /// All values of `name`, in order.
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.spans
            .iter()
            .filter(move |(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, start, end)| &self.data[*start as usize..*end as usize])
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// An entry of `values` (attribute name lower- or mixed-case as libldb gives it, value),
    /// its buffer sized once for all of them: growing it after a secret is in would leave a
    /// copy of the secret in the freed (unwiped) old buffer.
    fn from_values(dn: String, values: &[(&str, &[u8])]) -> Entry {
        let bytes = values.iter().map(|(_, v)| v.len()).sum();
        let mut entry =
            Entry { dn, spans: Vec::with_capacity(values.len()), data: Zeroizing::new(Vec::with_capacity(bytes)) };
        for (name, value) in values {
            entry.push(name, value);
        }
        entry
    }

    fn push(&mut self, name: &str, value: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(value);
        self.spans.push((name.into(), start, self.data.len() as u32));
    }

    #[cfg(test)]
    pub fn with(mut self, name: &str, values: &[&[u8]]) -> Self {
        for v in values {
            self.push(&name.to_ascii_lowercase(), v);
        }
        self
    }
}

/// Where a search starts.
#[derive(Clone, Debug)]
pub enum Base {
    /// The domain partition (defaultNamingContext).
    Domain,
    /// The rootDSE (base "" with base scope).
    RootDse,
    /// An explicit DN, for example `<GUID=...>` or `OU=Staff,DC=lab,DC=test`.
    Dn(String),
}

/// Search scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Base,
    OneLevel,
    Subtree,
}

/// One open connection to sam.ldb. Not `Send`: it lives on the thread that opened it.
pub struct LdbConnection {
    /// The talloc context everything of this connection hangs from; freeing it frees `ldb`.
    mem: *mut c_void,
    ldb: *mut ffi::ldb_context,
    path: PathBuf,
}

impl LdbConnection {
    /// Opens `path` read-only through the samba_dsdb module stack, so secret attributes come
    /// back decrypted. Checks first what would make libldb abort the process.
    pub fn open(path: &Path) -> Result<Self, LdbError> {
        Self::connect(path, ffi::LDB_FLG_RDONLY as u32)
    }

    /// Opens `path` through the samba_dsdb module stack with `access_flags` (LDB_FLG_RDONLY, or
    /// 0 for [`LdbWriter`]), after the same preflight checks either way.
    fn connect(path: &Path, access_flags: u32) -> Result<Self, LdbError> {
        preflight(path)?;
        let url = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| LdbError::InvalidInput("the sam.ldb path contains a NUL byte".into()))?;

        // SAFETY: a NULL parent makes a new top-level talloc context; the name is a static C string.
        let mem = unsafe { ffi::talloc_named_const(ptr::null(), 0, c"samba-entra-sync ldb".as_ptr()) };
        if mem.is_null() {
            return Err(connect_error(path, "out of memory"));
        }
        // SAFETY: `mem` is a valid talloc context; a NULL event context lets ldb make its own.
        let ldb = unsafe { ffi::ldb_init(mem, ptr::null_mut()) };
        let conn = LdbConnection { mem, ldb, path: path.to_path_buf() };
        if ldb.is_null() {
            return Err(connect_error(path, "ldb_init failed"));
        }
        // SAFETY: `ldb` is valid; the shim installs a callback that only formats and forwards.
        unsafe { ffi::samba_entra_sync_ldb_route_debug(conn.ldb) };
        // SAFETY: loadparm_init_global returns the process-wide loadparm context (or NULL); it
        // lives for the whole process, so handing it to ldb as an opaque is sound.
        let lp = unsafe { ffi::loadparm_init_global(false) };
        if lp.is_null() {
            return Err(connect_error(path, "loadparm_init_global failed"));
        }
        // SAFETY: `ldb` is valid; the name is a static C string; `lp` outlives the connection.
        unsafe { ffi::ldb_set_opaque(conn.ldb, c"loadparm".as_ptr(), lp.cast()) };
        if access_flags & ffi::LDB_FLG_RDONLY as u32 == 0 {
            // Samba's modules check a modify against the connection's session; without one it
            // counts as anonymous (see wrapper.h). The writer acts as the local system, as
            // samba-tool and ldbmodify on sam.ldb do.
            // SAFETY: `lp` is the process-wide loadparm context; system_session returns a
            // process-wide session (or NULL) that is never freed.
            let session = unsafe { ffi::system_session(lp) };
            if session.is_null() {
                return Err(connect_error(path, "cannot make Samba's system session"));
            }
            // SAFETY: `ldb` is valid; the name is a static C string; `session` lives as long
            // as the process.
            unsafe { ffi::ldb_set_opaque(conn.ldb, c"sessionInfo".as_ptr(), session.cast()) };
        }
        let flags = access_flags | (ffi::LDB_FLG_DONT_CREATE_DB | ffi::LDB_FLG_NOMMAP) as u32;
        // SAFETY: `ldb` and `url` are valid for the call; NULL options are allowed.
        let rc = unsafe { ffi::ldb_connect(conn.ldb, url.as_ptr(), flags, ptr::null_mut()) };
        if rc != ffi::LDB_SUCCESS {
            return Err(connect_error(path, &conn.errstring()));
        }
        conn.check_is_sam_ldb()?;
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn errstring(&self) -> String {
        // SAFETY: `ldb` is valid; ldb_errstring returns NULL or a string owned by the context.
        let p = unsafe { ffi::ldb_errstring(self.ldb) };
        if p.is_null() {
            return "unknown ldb error".to_string();
        }
        // SAFETY: non-NULL, NUL-terminated, owned by ldb and valid until the next ldb call.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().trim().to_string()
    }

    /// A plain tdb that is not a Samba AD database opens fine but has no domain partition;
    /// an encrypted-secrets database without its key would hand out ciphertext as hashes.
    fn check_is_sam_ldb(&self) -> Result<(), LdbError> {
        // SAFETY: `ldb` is valid; the default basedn is owned by the ldb context (or NULL).
        let base = unsafe { ffi::ldb_get_default_basedn(self.ldb) };
        if base.is_null() {
            return Err(LdbError::NotSamLdb { path: self.path.clone(), reason: "it has no domain partition".into() });
        }
        // Special records such as @SAMBA_DSDB have no objectClass, so match the feature itself.
        let encrypted = !self
            .search(&Base::Dn("@SAMBA_DSDB".into()), Scope::Base, "(requiredFeatures=encryptedSecrets)", &["dn"])?
            .is_empty();
        if encrypted {
            let key = self.path.parent().unwrap_or(Path::new(".")).join("encrypted_secrets.key");
            if !key.is_file() {
                return Err(LdbError::MissingSecretsKey { path: self.path.clone(), key });
            }
        }
        Ok(())
    }

    /// Searches sam.ldb and collects the entries. `filter` must already be escaped (see
    /// [`super::filter`]); `attrs` names every attribute wanted (secret and constructed
    /// attributes are only returned when named).
    pub fn search(&self, base: &Base, scope: Scope, filter: &str, attrs: &[&str]) -> Result<Vec<Entry>, LdbError> {
        let mut out = Vec::new();
        self.search_each(base, scope, filter, attrs, |e| out.push(e))?;
        Ok(out)
    }

    /// Searches sam.ldb and hands each entry to `each` as libldb produces it; libldb's copy is
    /// freed (secret values wiped first) before the next entry, so memory stays flat however
    /// large the domain is.
    pub fn search_each(
        &self,
        base: &Base,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        mut each: impl FnMut(Entry),
    ) -> Result<(), LdbError> {
        let filter = CString::new(filter).map_err(|_| LdbError::InvalidInput("filter contains a NUL byte".into()))?;
        let attr_strings = attrs
            .iter()
            .map(|a| CString::new(*a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| LdbError::InvalidInput("attribute name contains a NUL byte".into()))?;
        let mut attr_ptrs: Vec<*const c_char> = attr_strings.iter().map(|a| a.as_ptr()).collect();
        attr_ptrs.push(ptr::null());

        let tmp = TallocScope::new(self.mem)?;
        let base_dn = match base {
            // SAFETY: `ldb` is valid; the returned DN is owned by the ldb context.
            Base::Domain => unsafe { ffi::ldb_get_default_basedn(self.ldb) },
            Base::RootDse => {
                // SAFETY: `tmp` and `ldb` are valid; "" is the rootDSE's DN.
                unsafe { ffi::ldb_dn_new(tmp.ptr, self.ldb, c"".as_ptr()) }
            }
            Base::Dn(dn) => {
                let dn =
                    CString::new(dn.as_str()).map_err(|_| LdbError::InvalidInput("DN contains a NUL byte".into()))?;
                // SAFETY: `tmp`, `ldb` and `dn` are valid; ldb copies the string.
                unsafe { ffi::ldb_dn_new(tmp.ptr, self.ldb, dn.as_ptr()) }
            }
        };
        if base_dn.is_null() {
            return Err(LdbError::InvalidInput(format!("cannot parse the search base {base:?}")));
        }
        let scope = match scope {
            Scope::Base => ffi::ldb_scope::LDB_SCOPE_BASE,
            Scope::OneLevel => ffi::ldb_scope::LDB_SCOPE_ONELEVEL,
            Scope::Subtree => ffi::ldb_scope::LDB_SCOPE_SUBTREE,
        };
        let mut sink = EntrySink { each: &mut each, panicked: false };
        // SAFETY: every pointer is valid for the whole call: `attr_ptrs` is NULL-terminated and
        // outlives it, `sink` lives on this stack frame and `on_entry` only uses it during the
        // call; the request is allocated under `tmp`, which is freed after the call.
        let rc = unsafe {
            ffi::samba_entra_sync_ldb_search_each(
                self.ldb,
                tmp.ptr,
                base_dn,
                scope,
                filter.as_ptr(),
                attr_ptrs.as_ptr(),
                Some(on_entry),
                (&mut sink as *mut EntrySink<'_>).cast(),
            )
        };
        if sink.panicked {
            return Err(LdbError::Panicked);
        }
        if rc == ffi::LDB_ERR_NO_SUCH_OBJECT {
            return Ok(());
        }
        if rc != ffi::LDB_SUCCESS {
            return Err(LdbError::Search { code: rc, message: self.errstring() });
        }
        Ok(())
    }
}

/// The attribute the write-back sets, and the only one [`LdbWriter`] ever writes.
const CONSISTENCY_GUID: &CStr = c"mS-DS-ConsistencyGuid";

/// What [`LdbWriter::set_consistency_guid`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsistencyGuidWrite {
    /// The attribute was empty and now holds the objectGUID.
    Written,
    /// The attribute already had a value, which was left as it is.
    AlreadySet,
    /// No object has this DN (any more): renamed, moved or deleted since it was read.
    NoSuchObject,
}

/// A writable connection to sam.ldb, separate from the daemon's read-only one and used only for
/// the consistency GUID write-back. It offers that one write and nothing else. Not `Send`: it
/// lives on the sam.ldb thread next to the reader (see [`LdbHandle::call_writer`]).
pub struct LdbWriter {
    conn: LdbConnection,
}

impl LdbWriter {
    /// Opens `path` read-write through the same module stack and checks as the reader. Writes go
    /// through Samba's modules (replication metadata, USNs) and tdb's locks, which is safe while
    /// samba runs: its own processes write the same way.
    pub fn open(path: &Path) -> Result<Self, LdbError> {
        Ok(LdbWriter { conn: LdbConnection::connect(path, 0)? })
    }

    pub fn path(&self) -> &Path {
        self.conn.path()
    }

    /// Writes `object_guid` into the empty mS-DS-ConsistencyGuid of the user at `dn`, whose
    /// objectGUID it must be (what Entra Connect writes back, so the anchor survives a move to
    /// another forest). Never overwrites: inside one transaction it re-reads the object and
    /// leaves a value that is already there alone; the modify itself is an add, which AD refuses
    /// for a single-valued attribute that has a value. Refuses anything but a user (computers
    /// included) and a value that is not the object's own objectGUID.
    pub fn set_consistency_guid(&self, dn: &str, object_guid: &[u8; 16]) -> Result<ConsistencyGuidWrite, LdbError> {
        let refuse = |reason: &str| LdbError::WriteRefused { dn: dn.to_string(), reason: reason.to_string() };
        let txn = Transaction::start(&self.conn, dn)?;
        let attrs = ["objectClass", "objectGUID", "mS-DS-ConsistencyGuid"];
        let found = self.conn.search(&Base::Dn(dn.to_string()), Scope::Base, "(objectClass=*)", &attrs)?;
        let Some(entry) = found.first() else {
            return Ok(ConsistencyGuidWrite::NoSuchObject);
        };
        let class = |c: &str| entry.values("objectClass").any(|v| v.eq_ignore_ascii_case(c.as_bytes()));
        if !class("user") || class("computer") {
            return Err(refuse("it is not a user, and only users get their consistency GUID written back"));
        }
        if entry.first("objectGUID") != Some(&object_guid[..]) {
            return Err(refuse("the value to write is not its objectGUID"));
        }
        if entry.first("mS-DS-ConsistencyGuid").is_some_and(|v| !v.is_empty()) {
            return Ok(ConsistencyGuidWrite::AlreadySet);
        }
        // The DN as stored: the one given may be a <GUID=...> form or differ in case.
        self.add_value(&entry.dn, CONSISTENCY_GUID, object_guid)?;
        txn.commit()?;
        Ok(ConsistencyGuidWrite::Written)
    }

    /// One ldb modify that adds `value` to `attr` of `dn` (LDB_FLAG_MOD_ADD).
    fn add_value(&self, dn: &str, attr: &CStr, value: &[u8]) -> Result<(), LdbError> {
        let attr = attr.to_str().map_err(|_| LdbError::InvalidInput("attribute name is not UTF-8".into()))?;
        write_message(&self.conn, dn, Operation::Modify, &[(attr, ffi::LDB_FLAG_MOD_ADD, &[value])])
    }
}

/// What [`write_message`] does with its message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Add,
    Modify,
}

/// One attribute of a message: name, LDB_FLAG_MOD_* (0 for an add), values.
type MessageElement<'a> = (&'a str, i32, &'a [&'a [u8]]);

/// Builds one ldb message for `dn` and adds it or applies it as a modify. Every value is copied
/// into talloc memory under the message and wiped before the message is freed: a value may be
/// a password (unicodePwd).
fn write_message(
    conn: &LdbConnection,
    dn: &str,
    operation: Operation,
    elements: &[MessageElement<'_>],
) -> Result<(), LdbError> {
    let fail = |message: &str| LdbError::Write { dn: dn.to_string(), code: -1, message: message.to_string() };
    let dn_c = CString::new(dn).map_err(|_| LdbError::InvalidInput("DN contains a NUL byte".into()))?;
    let tmp = TallocScope::new(conn.mem)?;
    // SAFETY: `tmp` is a live talloc context; the message is freed with it.
    let msg = unsafe { ffi::ldb_msg_new(tmp.ptr) };
    if msg.is_null() {
        return Err(fail("out of memory"));
    }
    // SAFETY: `msg` and `ldb` are valid; ldb copies the string into a DN owned by `msg`.
    let parsed = unsafe { ffi::ldb_dn_new(msg.cast(), conn.ldb, dn_c.as_ptr()) };
    if parsed.is_null() {
        return Err(fail("cannot parse the DN"));
    }
    // SAFETY: `msg` is a valid message that nobody else references yet.
    unsafe { (*msg).dn = parsed };
    let mut copies: Vec<(*mut u8, usize)> = Vec::new();
    let result = (|| {
        for (attr, flags, values) in elements {
            let attr_c =
                CString::new(*attr).map_err(|_| LdbError::InvalidInput("attribute name contains a NUL byte".into()))?;
            let mut el: *mut ffi::ldb_message_element = ptr::null_mut();
            // SAFETY: `msg` is valid, `attr_c` is NUL-terminated (ldb copies it), `el` receives a
            // pointer into `msg`'s elements.
            let rc = unsafe { ffi::ldb_msg_add_empty(msg, attr_c.as_ptr(), *flags, &mut el) };
            if rc != ffi::LDB_SUCCESS || el.is_null() {
                return Err(fail("out of memory"));
            }
            for value in values.iter() {
                // The message keeps a pointer to the value: copy it into talloc memory under `msg`,
                // so it lives exactly as long as the message, whatever the modules do with it.
                // SAFETY: `msg` is a live talloc context; asks for `value.len()` bytes (at least 1,
                // so an empty value still gets a pointer).
                let data = unsafe {
                    ffi::talloc_named_const(msg.cast(), value.len().max(1), c"samba-entra-sync value".as_ptr())
                };
                if data.is_null() {
                    return Err(fail("out of memory"));
                }
                // SAFETY: `data` has room for `value.len()` bytes and does not overlap `value`.
                unsafe { ptr::copy_nonoverlapping(value.as_ptr(), data.cast::<u8>(), value.len()) };
                copies.push((data.cast::<u8>(), value.len()));
                let val = ffi::ldb_val { data: data.cast(), length: value.len() };
                // SAFETY: `el` is the element just added to `msg`; ldb copies the ldb_val struct (its
                // data pointer stays ours, under `msg`).
                let rc = unsafe { ffi::ldb_msg_element_add_value(msg.cast(), el, &val) };
                if rc != ffi::LDB_SUCCESS {
                    return Err(fail("out of memory"));
                }
            }
        }
        let rc = match operation {
            // SAFETY: `ldb` and `msg` are valid for the call; ldb_add waits for the request to end.
            Operation::Add => unsafe { ffi::ldb_add(conn.ldb, msg) },
            // SAFETY: as above, for ldb_modify.
            Operation::Modify => unsafe { ffi::ldb_modify(conn.ldb, msg) },
        };
        if rc != ffi::LDB_SUCCESS {
            return Err(LdbError::Write { dn: dn.to_string(), code: rc, message: conn.errstring() });
        }
        Ok(())
    })();
    for (data, length) in copies {
        // SAFETY: each copy lives under `msg`, which `tmp` still holds; nobody reads it after the
        // request ended. Wiped before `tmp` frees it.
        unsafe { wipe(data, length) };
    }
    result
}

/// A writable connection for `seamless-sso`: it creates, re-keys and deletes one computer account
/// (`AZUREADSSOACC$`) as Samba's system session, the way `ldbadd`/`samba-tool` on sam.ldb do. Never
/// used by the daemon. Not `Send`: it lives on the thread that opened it.
pub struct AccountWriter {
    conn: LdbConnection,
}

impl AccountWriter {
    /// Opens `path` read-write with `realm` set in Samba's loadparm first: the password_hash module
    /// salts the account's Kerberos keys with the realm, which is empty when no smb.conf is loaded
    /// (a key no KDC client would ever match).
    pub fn open(path: &Path, realm: &str) -> Result<Self, LdbError> {
        let realm_c = CString::new(realm).map_err(|_| LdbError::InvalidInput("realm contains a NUL byte".into()))?;
        // SAFETY: loadparm_init_global returns the process-wide context (or NULL), the same one
        // `connect` hands to ldb.
        let lp = unsafe { ffi::loadparm_init_global(false) };
        if lp.is_null() {
            return Err(connect_error(path, "loadparm_init_global failed"));
        }
        // SAFETY: `lp` is valid; both strings are NUL-terminated and copied by loadparm.
        if !unsafe { ffi::lpcfg_set_cmdline(lp, c"realm".as_ptr(), realm_c.as_ptr()) } {
            return Err(connect_error(path, "cannot set the realm in Samba's loadparm"));
        }
        Ok(AccountWriter { conn: LdbConnection::connect(path, 0)? })
    }

    /// Searches through the same connection (what was just written is visible).
    pub fn search(&self, base: &Base, scope: Scope, filter: &str, attrs: &[&str]) -> Result<Vec<Entry>, LdbError> {
        self.conn.search(base, scope, filter, attrs)
    }

    /// Adds the object `dn` with `attributes` (name, values).
    pub fn add(&self, dn: &str, attributes: &[(&str, &[&[u8]])]) -> Result<(), LdbError> {
        let elements: Vec<MessageElement<'_>> = attributes.iter().map(|(a, v)| (*a, 0, *v)).collect();
        write_message(&self.conn, dn, Operation::Add, &elements)
    }

    /// Replaces the values of `attributes` of `dn`.
    pub fn replace(&self, dn: &str, attributes: &[(&str, &[&[u8]])]) -> Result<(), LdbError> {
        let elements: Vec<MessageElement<'_>> =
            attributes.iter().map(|(a, v)| (*a, ffi::LDB_FLAG_MOD_REPLACE, *v)).collect();
        write_message(&self.conn, dn, Operation::Modify, &elements)
    }

    /// Deletes the object `dn` (a leaf).
    pub fn delete(&self, dn: &str) -> Result<(), LdbError> {
        let fail = |message: &str| LdbError::Write { dn: dn.to_string(), code: -1, message: message.to_string() };
        let dn_c = CString::new(dn).map_err(|_| LdbError::InvalidInput("DN contains a NUL byte".into()))?;
        let tmp = TallocScope::new(self.conn.mem)?;
        // SAFETY: `tmp` is a live talloc context; `ldb` is valid; ldb copies the string.
        let parsed = unsafe { ffi::ldb_dn_new(tmp.ptr, self.conn.ldb, dn_c.as_ptr()) };
        if parsed.is_null() {
            return Err(fail("cannot parse the DN"));
        }
        // SAFETY: `ldb` and `parsed` are valid; ldb_delete waits for the request to end.
        let rc = unsafe { ffi::ldb_delete(self.conn.ldb, parsed) };
        if rc != ffi::LDB_SUCCESS {
            return Err(LdbError::Write { dn: dn.to_string(), code: rc, message: self.conn.errstring() });
        }
        Ok(())
    }
}

/// An ldb transaction, cancelled on drop unless committed: every early return (a refusal, a
/// failed search or modify) leaves sam.ldb untouched and the transaction closed.
struct Transaction<'a> {
    conn: &'a LdbConnection,
    dn: &'a str,
    open: bool,
}

impl<'a> Transaction<'a> {
    fn start(conn: &'a LdbConnection, dn: &'a str) -> Result<Self, LdbError> {
        // SAFETY: `ldb` is valid; a transaction on this connection is ended by commit or drop.
        let rc = unsafe { ffi::ldb_transaction_start(conn.ldb) };
        if rc != ffi::LDB_SUCCESS {
            return Err(LdbError::Write { dn: dn.to_string(), code: rc, message: conn.errstring() });
        }
        Ok(Transaction { conn, dn, open: true })
    }

    fn commit(mut self) -> Result<(), LdbError> {
        // A failed commit has already been cancelled by libldb: never cancel it twice.
        self.open = false;
        // SAFETY: `ldb` is valid and this transaction is open.
        let rc = unsafe { ffi::ldb_transaction_commit(self.conn.ldb) };
        if rc != ffi::LDB_SUCCESS {
            return Err(LdbError::Write { dn: self.dn.to_string(), code: rc, message: self.conn.errstring() });
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // SAFETY: `ldb` is valid and this transaction is still open.
            let rc = unsafe { ffi::ldb_transaction_cancel(self.conn.ldb) };
            if rc != ffi::LDB_SUCCESS {
                tracing::warn!(dn = %self.dn, "cancelling an ldb transaction failed: {}", self.conn.errstring());
            }
        }
    }
}

// SAFETY: the declaration matches glibc's `int malloc_trim(size_t pad)` (malloc.h); the daemon
// links glibc, which every Debian system has.
unsafe extern "C" {
    /// glibc's `malloc_trim` (malloc.h): gives the free memory at the top of each heap, and
    /// whole free pages inside them, back to the kernel.
    fn malloc_trim(pad: usize) -> i32;
}

/// Gives memory freed by a large search back to the kernel. A search of the whole domain needs,
/// while it runs, memory in proportion to the objects it returns (about 0.65 KB per user inside
/// libldb and the samba modules, freed when it ends), and glibc keeps what was freed: measured
/// with 50,000 users, a pass that keeps nothing leaves 32 MB more resident, all of it returned by
/// this call. A full reconcile calls it after each pass over the domain.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own heaps under their locks; it takes no pointer and
    // is safe to call from any thread at any time.
    unsafe { malloc_trim(0) };
}

/// What `on_entry` hands each entry to.
struct EntrySink<'a> {
    each: &'a mut dyn FnMut(Entry),
    panicked: bool,
}

/// Called by shim.c once per search entry; returns 0 to continue, 1 to abort the search.
// SAFETY: only shim.c calls this, with the `EntrySink` pointer `search_each` passed in and a
// message that lives until the callback returns.
unsafe extern "C" fn on_entry(ctx: *mut c_void, msg: *mut ffi::ldb_message) -> i32 {
    if ctx.is_null() || msg.is_null() {
        return 1;
    }
    // SAFETY: `ctx` is the `EntrySink` passed by `search_each`, alive for the whole search and
    // not touched by anyone else meanwhile.
    let sink = unsafe { &mut *ctx.cast::<EntrySink<'_>>() };
    // SAFETY: libldb passes a valid message that stays alive until this callback returns.
    let entry = unsafe { copy_message(msg) };
    // A panic must not unwind into C.
    match catch_unwind(AssertUnwindSafe(|| (sink.each)(entry))) {
        Ok(()) => 0,
        Err(_) => {
            sink.panicked = true;
            1
        }
    }
}

/// Copies one message into owned Rust values and wipes secret values in ldb's memory.
///
/// # Safety
/// `msg` must point to a valid `ldb_message` that stays alive during the call.
// SAFETY: callers pass a message from a live libldb reply (see `on_entry`).
unsafe fn copy_message(msg: *mut ffi::ldb_message) -> Entry {
    // SAFETY: the caller guarantees `msg` is valid.
    let msg = unsafe { &*msg };
    // SAFETY: a message's DN is valid; the linearized string is owned by the DN.
    let dn_ptr = unsafe { ffi::ldb_dn_get_linearized(msg.dn) };
    let dn = if dn_ptr.is_null() {
        String::new()
    } else {
        // SAFETY: non-NULL and NUL-terminated.
        unsafe { CStr::from_ptr(dn_ptr) }.to_string_lossy().into_owned()
    };
    // First every value (borrowed from the message), so the entry's buffer is sized once.
    let mut names = Vec::with_capacity(msg.num_elements as usize);
    let mut secrets = Vec::new();
    for j in 0..msg.num_elements as usize {
        // SAFETY: `elements` holds `num_elements` elements.
        let el = unsafe { &*msg.elements.add(j) };
        if el.name.is_null() {
            continue;
        }
        // SAFETY: element names are NUL-terminated strings owned by the message.
        let name = unsafe { CStr::from_ptr(el.name) }.to_string_lossy();
        let secret = SECRET_ATTRIBUTES.iter().any(|s| s.eq_ignore_ascii_case(&name));
        let mut values: Vec<&[u8]> = Vec::with_capacity(el.num_values as usize);
        for k in 0..el.num_values as usize {
            // SAFETY: `values` holds `num_values` values.
            let val = unsafe { &*el.values.add(k) };
            if val.data.is_null() {
                values.push(&[]);
                continue;
            }
            // SAFETY: `data` points to `length` readable bytes owned by the message.
            values.push(unsafe { std::slice::from_raw_parts(val.data, val.length) });
            if secret {
                secrets.push((val.data, val.length));
            }
        }
        names.push((name, values));
    }
    let values: Vec<(&str, &[u8])> =
        names.iter().flat_map(|(name, values)| values.iter().map(move |v| (name.as_ref(), *v))).collect();
    let entry = Entry::from_values(dn, &values);
    drop(values);
    drop(names);
    for (data, length) in secrets {
        // SAFETY: the bytes belong to this reply, which is freed right after the callback and
        // read by no one else (the borrowed slices are gone): wipe the hash before talloc frees it.
        unsafe { wipe(data, length) };
    }
    entry
}

/// Volatile zeroing, so the compiler cannot drop the wipe of memory that is freed right after.
///
/// # Safety
/// `p` must be valid for writes of `len` bytes.
// SAFETY: callers pass a buffer they may write: the value bytes of a reply they own.
unsafe fn wipe(p: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: the caller guarantees `p..p+len` is writable.
        unsafe { ptr::write_volatile(p.add(i), 0) };
    }
}

fn connect_error(path: &Path, message: &str) -> LdbError {
    LdbError::Connect { path: path.to_path_buf(), message: message.to_string() }
}

/// A temporary talloc child context, freed (with everything under it) on drop.
struct TallocScope {
    ptr: *mut c_void,
}

impl TallocScope {
    fn new(parent: *mut c_void) -> Result<Self, LdbError> {
        // SAFETY: `parent` is a live talloc context owned by the connection.
        let ptr = unsafe { ffi::talloc_named_const(parent, 0, c"samba-entra-sync search".as_ptr()) };
        if ptr.is_null() {
            return Err(LdbError::Search { code: -1, message: "out of memory".into() });
        }
        Ok(TallocScope { ptr })
    }
}

impl Drop for TallocScope {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from talloc_named_const and is freed exactly once, here.
        unsafe { ffi::_talloc_free(self.ptr, c"samba-entra-sync".as_ptr()) };
    }
}

impl Drop for LdbConnection {
    fn drop(&mut self) {
        // SAFETY: `mem` is the top-level context made in `open` and is freed exactly once;
        // freeing it closes the ldb connection hanging from it.
        unsafe { ffi::_talloc_free(self.mem, c"samba-entra-sync".as_ptr()) };
    }
}

/// Checks, before libldb sees the path, what would otherwise make it fail badly or abort():
/// a missing file, one this process cannot open for reading and writing (libldb needs both even
/// for a read-only connection), something other than a regular file, or a file that is not a
/// tdb database at all.
fn preflight(path: &Path) -> Result<(), LdbError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LdbError::NotFound { path: path.to_path_buf() });
        }
        Err(e) => return Err(LdbError::Unreadable { path: path.to_path_buf(), reason: e.to_string() }),
    };
    if !meta.is_file() {
        return Err(LdbError::NotSamLdb { path: path.to_path_buf(), reason: "it is not a regular file".into() });
    }
    // libldb opens even a read-only connection O_RDWR (tdb locking), so test both.
    let mut magic = [0u8; 8];
    let opened = std::fs::OpenOptions::new().read(true).write(true).open(path);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => return Err(LdbError::Unreadable { path: path.to_path_buf(), reason: e.to_string() }),
    };
    if file.read_exact(&mut magic).is_err() || &magic != b"TDB file" {
        return Err(LdbError::NotSamLdb { path: path.to_path_buf(), reason: "it is not a tdb database file".into() });
    }
    Ok(())
}

/// Receives libldb's (and the samba modules') messages from `shim.c`.
///
/// # Safety
/// Called by the C shim with a valid NUL-terminated message.
// SAFETY: the symbol name is unique to this project (shim.c calls it); the function only reads
// the NUL-terminated message it is given.
#[unsafe(no_mangle)]
unsafe extern "C" fn samba_entra_sync_ldb_log(level: i32, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: the shim passes a NUL-terminated buffer that lives for this call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    let text = text.trim();
    // ldb levels: 0 fatal, 1 error, 2 warning, 3 trace. The modules' warnings are chatter for
    // the log (what matters is turned into our own errors, one sentence each), so they go one
    // level down: a CLI command, which shows warnings only, stays quiet.
    match level {
        0 | 1 => tracing::warn!(target: "ldb", "{text}"),
        2 => tracing::info!(target: "ldb", "{text}"),
        _ => tracing::trace!(target: "ldb", "{text}"),
    }
}

/// What the owner thread holds: the read-only connection, and the writer once asked for.
struct Owner {
    reader: LdbConnection,
    writer: Option<LdbWriter>,
}

type Job = Box<dyn FnOnce(&mut Owner) + Send>;

/// A cheap, cloneable, `Send` handle to the thread that owns the sam.ldb connection.
#[derive(Clone)]
pub struct LdbHandle {
    jobs: mpsc::UnboundedSender<Job>,
    path: PathBuf,
}

impl LdbHandle {
    /// Starts the owner thread, opens `path` on it and waits until it is open (or failed).
    pub async fn open(path: &Path) -> Result<Self, LdbError> {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("sam.ldb".into())
            .spawn(move || {
                let mut owner = match LdbConnection::open(&thread_path) {
                    Ok(reader) => {
                        let _ = ready_tx.send(Ok(()));
                        Owner { reader, writer: None }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = rx.blocking_recv() {
                    // A panicking job must not take the connection's thread down with it.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&mut owner)));
                }
            })
            .map_err(|_| LdbError::ThreadGone)?;
        ready_rx.await.map_err(|_| LdbError::ThreadGone)??;
        Ok(LdbHandle { jobs, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the owner thread with the connection and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, LdbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut LdbConnection) -> Result<R, LdbError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |owner| {
            let _ = tx.send(f(&mut owner.reader));
        });
        self.run(job, rx).await
    }

    /// Runs `f` on the owner thread with the writable connection, opened there on first use and
    /// kept (opening loads the schema: a few hundred ms). Only the consistency GUID write-back
    /// calls this, so a daemon without it never opens sam.ldb for writing. A failed open is
    /// returned and tried again on the next call.
    pub async fn call_writer<R, F>(&self, f: F) -> Result<R, LdbError>
    where
        R: Send + 'static,
        F: FnOnce(&LdbWriter) -> Result<R, LdbError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |owner| {
            if owner.writer.is_none() {
                match LdbWriter::open(owner.reader.path()) {
                    Ok(w) => owner.writer = Some(w),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            if let Some(w) = &owner.writer {
                let _ = tx.send(f(w));
            }
        });
        self.run(job, rx).await
    }

    async fn run<R>(&self, job: Job, rx: oneshot::Receiver<Result<R, LdbError>>) -> Result<R, LdbError> {
        self.jobs.send(job).map_err(|_| LdbError::ThreadGone)?;
        match rx.await {
            Ok(r) => r,
            // The sender was dropped without answering: the job panicked.
            Err(_) => Err(LdbError::Panicked),
        }
    }
}

#[cfg(test)]
mod entry_tests {
    use super::Entry;

    #[test]
    fn an_entry_is_sized_once_so_no_secret_is_left_in_a_freed_buffer() {
        let hash = [0xa5u8; 16];
        let names: Vec<String> = (0..40).map(|i| format!("attribute{i}")).collect();
        let mut values: Vec<(&str, &[u8])> = vec![("unicodePwd", &hash)];
        values.extend(names.iter().map(|n| (n.as_str(), n.as_bytes())));
        let entry = Entry::from_values("CN=x".into(), &values);
        let total: usize = values.iter().map(|(_, v)| v.len()).sum();
        // One buffer of exactly the values' size: it never grew (and moved) after the hash was in.
        assert_eq!(entry.data.capacity(), total, "the value buffer grew after the first value");
        assert_eq!(entry.spans.capacity(), values.len());
        assert_eq!(entry.first("unicodepwd"), Some(&hash[..]));
        assert_eq!(entry.first("ATTRIBUTE39"), Some(&b"attribute39"[..]));
    }
}
