//! Generates the libldb bindings (allowlisted) and compiles the small C shim next to them
//! (`src/samba/shim.c`: libldb's log and search callbacks).
//!
//! Needs the Debian packages listed in `PACKAGES` below (`scripts/install-deps.sh` installs them).

use std::env;
use std::path::PathBuf;
use std::process::exit;

const PACKAGES: &str = "libldb-dev libtalloc-dev libtevent-dev samba-dev pkg-config libclang-dev";

fn fail(what: &str) -> ! {
    // One sentence, printed where cargo shows build-script errors.
    eprintln!("error: {what}: install the Debian packages `{PACKAGES}` (or run scripts/install-deps.sh as root).");
    exit(1);
}

fn main() {
    println!("cargo:rerun-if-changed=src/samba/wrapper.h");
    println!("cargo:rerun-if-changed=src/samba/shim.c");
    println!("cargo:rerun-if-changed=build.rs");

    let mut include_paths = Vec::new();
    for (lib, min) in [("ldb", "2.0"), ("talloc", "2.0"), ("samba-hostconfig", "0"), ("samdb", "0")] {
        match pkg_config::Config::new().atleast_version(min).probe(lib) {
            Ok(found) => include_paths.extend(found.include_paths),
            Err(e) => fail(&format!("pkg-config cannot find {lib} ({})", e.to_string().lines().next().unwrap_or(""))),
        }
    }

    let mut builder = bindgen::Builder::default()
        .header("src/samba/wrapper.h")
        .allowlist_function(
            "ldb_(init|connect|search|set_opaque|errstring|strerror|msg_find_element|dn_get_linearized|dn_new|get_default_basedn|get_root_basedn|binary_encode_string|set_flags|set_debug|modify|msg_new|msg_add_empty|msg_element_add_value|transaction_start|transaction_commit|transaction_cancel|add|delete)",
        )
        .allowlist_function("talloc_named_const|_talloc_free")
        .blocklist_function("samba_entra_sync_ldb_log")
        .allowlist_function("loadparm_init_global|lpcfg_set_cmdline|samba_entra_sync_ldb_route_debug|samba_entra_sync_ldb_search_each|system_session")
        .allowlist_type("ldb_(context|message|message_element|val|dn|scope)|samba_entra_sync_entry_fn")
        .allowlist_var("LDB_(SUCCESS|SCOPE_.*|FLG_.*|ERR_.*|FLAG_MOD_ADD|FLAG_MOD_REPLACE)")
        .opaque_type("ldb_context|ldb_dn|tevent_context|loadparm_context|auth_session_info")
        .newtype_enum("ldb_scope")
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .layout_tests(false)
        .derive_debug(false)
        .generate_comments(false);
    for p in &include_paths {
        builder = builder.clang_arg(format!("-I{}", p.display()));
    }
    // bindgen panics when it cannot load libclang: turn that into our one-sentence error.
    std::panic::set_hook(Box::new(|_| {}));
    let generated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.generate()));
    let _ = std::panic::take_hook();
    let bindings = match generated {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => fail(&format!("bindgen could not parse the ldb headers ({e})")),
        Err(_) => fail("bindgen could not load libclang"),
    };
    let mut shim = cc::Build::new();
    shim.file("src/samba/shim.c").include("src/samba").warnings(true).extra_warnings(true);
    for p in &include_paths {
        shim.include(p);
    }
    if let Err(e) = shim.try_compile("ldb_shim") {
        fail(&format!("cannot compile src/samba/shim.c ({e})"));
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    if let Err(e) = bindings.write_to_file(out.join("ldb_sys.rs")) {
        fail(&format!("cannot write the ldb bindings ({e})"));
    }
}
