//! The msbin1 reader on arbitrary bytes: it must never panic, hang or run past its limits, and
//! whatever it accepts must survive the writer and the XML bridge unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use samba_entra_sync::entra::nbfx::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_input_bytes: 1 << 20, max_decoded_bytes: 8 << 20, ..Limits::default() };
    let Ok(tree) = nbfx::decode_with_limits(data, &limits) else { return };
    let bytes = nbfx::encode(&tree).expect("a decoded tree always encodes");
    let again = nbfx::decode(&bytes).expect("the writer's output always decodes");
    assert_eq!(again, tree, "decode(encode(tree)) changed the tree");
    // XML cannot carry U+0000; everything else must survive the text bridge.
    let xml = nbfx::to_xml(&tree);
    if !xml.contains("&#x0;") {
        assert_eq!(nbfx::from_xml(&xml).expect("to_xml output parses"), tree, "XML round trip changed the tree");
    }
});
